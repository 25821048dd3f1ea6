/**
 * The CLI's flags and how they become a `ProxyConfig` (flags override the config file; the
 * validator then checks the result, so a bad flag is reported like a bad config field).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ProxyConfig } from './config.ts';

export const HELP = `toolhive-proxy: one stdio MCP server, many Streamable HTTP and SSE clients

Usage:
  toolhive-proxy --config FILE [flags]
  toolhive-proxy [flags] -- <command> [args...]     spawn a local stdio MCP server

Flags (each overrides the config file):
  --config FILE                   JSON configuration document (see proxy/README.md)
  --server NAME                   server name: metric label and log field (default: "mcp" or the config's)
  --host ADDRESS                  MCP listener address (default 0.0.0.0)
  --port PORT                     MCP listener port: /mcp, /sse, /messages, /healthz, /readyz (default 8080)
  --metrics-host ADDRESS          Prometheus listener address (default: --host)
  --metrics-port PORT             Prometheus /metrics port; 0 disables it (default 9464)
  --max-body-bytes N              largest request body, else 413 (default 4194304)
  --request-timeout-ms N          per-request timeout (default 60000)
  --max-sessions N                live sessions at most, else 503 (default 10000)
  --session-idle-timeout-ms N     idle session expiry (default 1800000)
  --max-in-flight N               requests in flight to the backend at most, else 503 (default 4096)
  --max-stdin-backlog-bytes N     bytes waiting for the server's stdin before new requests get 503 (default 16777216)
  --backend-wait-ms N             how long a request waits for a backend that is not ready (default 10000)
  --shutdown-grace-ms N           SIGTERM drain period (default 20000)
  --allowed-host HOST             allowed Host header (repeatable; replaces the defaults)
  --allowed-origin ORIGIN         allowed Origin header (repeatable)
  --http URL                      reverse-proxy an HTTP MCP server instead of spawning one
  --http-transport T              transport at --http URL: streamable-http (default) or sse
  --log-level LEVEL               debug, info, warn or error (default info)
  -h, --help                      this help
`;

const OPTIONS = {
  config: { type: 'string' },
  server: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'metrics-host': { type: 'string' },
  'metrics-port': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'request-timeout-ms': { type: 'string' },
  'max-sessions': { type: 'string' },
  'session-idle-timeout-ms': { type: 'string' },
  'max-in-flight': { type: 'string' },
  'max-stdin-backlog-bytes': { type: 'string' },
  'backend-wait-ms': { type: 'string' },
  'shutdown-grace-ms': { type: 'string' },
  'allowed-host': { type: 'string', multiple: true },
  'allowed-origin': { type: 'string', multiple: true },
  http: { type: 'string' },
  'http-transport': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flag values are passed as numbers when they look like numbers, so the validator reports them precisely. */
const num = (value: string | undefined): number | string | undefined =>
  value === undefined ? undefined : /^-?\d+$/.test(value) ? Number(value) : value;

const defined = (object: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`config file ${path} must hold a JSON object`);
  return doc as Record<string, unknown>;
}

export function configFromArgs(argv: readonly string[]): { config: ProxyConfig; help: boolean } {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  const file = values.config ? readConfigFile(values.config) : {};
  const section = (name: string): Record<string, unknown> => (file[name] as Record<string, unknown> | undefined) ?? {};
  let backend = file.backend as ProxyConfig['backend'] | undefined;
  if (positionals.length > 0) backend = { type: 'spawn', command: positionals[0], args: positionals.slice(1) };
  if (values.http) backend = { type: 'http', url: values.http, transport: (values['http-transport'] ?? 'streamable-http') as 'streamable-http' };
  // A flag given replaces the file's value; a flag not given leaves it alone.
  const merge = (name: string, flags: Record<string, unknown>): Record<string, unknown> => ({ ...section(name), ...defined(flags) });
  const security = merge('security', { allowedHosts: values['allowed-host'], allowedOrigins: values['allowed-origin'] });
  const config = defined({
    ...file,
    server: values.server ?? file.server ?? 'mcp',
    backend,
    listen: merge('listen', { host: values.host, port: num(values.port), metricsHost: values['metrics-host'], metricsPort: num(values['metrics-port']) }),
    limits: merge('limits', {
      maxBodyBytes: num(values['max-body-bytes']),
      requestTimeoutMs: num(values['request-timeout-ms']),
      maxSessions: num(values['max-sessions']),
      sessionIdleTimeoutMs: num(values['session-idle-timeout-ms']),
      maxInFlight: num(values['max-in-flight']),
      maxStdinBacklogBytes: num(values['max-stdin-backlog-bytes']),
      backendWaitMs: num(values['backend-wait-ms']),
      shutdownGraceMs: num(values['shutdown-grace-ms']),
    }),
    security,
    logging: merge('logging', { level: values['log-level'] }),
  });
  for (const key of ['listen', 'limits', 'security', 'logging']) {
    const value = config[key] as Record<string, unknown>;
    if (Object.keys(value).length === 0) delete config[key];
  }
  return { config: config as unknown as ProxyConfig, help: values.help ?? false };
}

