/**
 * Validation of the proxy's configuration document. Every problem is reported with the field path,
 * the bad value and what is allowed; all problems of a document are reported together, so a broken
 * ConfigMap is fixed in one round trip. Unknown fields are errors: a typo must not silently fall
 * back to a default.
 */
import type {
  AttachBackendConfig,
  BackoffConfig,
  HttpBackendConfig,
  LimitsConfig,
  ListenConfig,
  LoggingConfig,
  OtlpConfig,
  ProxyConfig,
  SpawnBackendConfig,
} from './config.ts';

/** MCP SDK stdio servers exit on a line of 10 MiB; a stream backend's body limit stays below it. */
export const STDIO_LINE_LIMIT_BYTES = 10 * 1024 * 1024;

export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]', '*.svc', '*.svc.cluster.local'];

export type ResolvedBackoff = Required<BackoffConfig>;
export type ResolvedSpawnBackend = Required<Omit<SpawnBackendConfig, 'cwd'>> & { readonly cwd?: string; readonly restart: ResolvedBackoff };
export type ResolvedAttachBackend = AttachBackendConfig &
  Required<Pick<AttachBackendConfig, 'container' | 'protocol' | 'idleProbeMs'>> & { readonly reconnect: ResolvedBackoff };
export type ResolvedBackendConfig = ResolvedSpawnBackend | ResolvedAttachBackend | HttpBackendConfig;

/** A `ProxyConfig` with every default filled in: what the running proxy reads. */
export interface ResolvedProxyConfig {
  readonly server: string;
  readonly backend: ResolvedBackendConfig;
  readonly listen: Required<ListenConfig>;
  readonly limits: Required<LimitsConfig>;
  readonly security: { readonly allowedOrigins: readonly string[]; readonly allowedHosts: readonly string[] };
  readonly telemetry: { readonly serviceName: string; readonly otlp?: Required<OtlpConfig> };
  readonly logging: Required<LoggingConfig>;
}

export class ProxyConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid proxy config:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ProxyConfigError';
    this.problems = problems;
  }
}

type Obj = Record<string, unknown>;

const show = (value: unknown): string => {
  if (value === undefined) return 'undefined';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** Collects problems while reading a document; every reader returns a usable value regardless. */
class Reader {
  readonly problems: string[] = [];

  fail(path: string, value: unknown, allowed: string): void {
    this.problems.push(`${path}: ${show(value)} is not allowed: expected ${allowed}`);
  }

  object(path: string, value: unknown, known: readonly string[], required = false): Obj | undefined {
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(path, value, 'an object');
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.problems.push(`${path}.${key}: unknown field; allowed fields are ${known.join(', ')}`);
    }
    return value as Obj;
  }

  int(path: string, value: unknown, min: number, max: number, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(path, value, `an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  ratio(path: string, value: unknown, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      this.fail(path, value, 'a number from 0 to 1');
      return fallback;
    }
    return value;
  }

  bool(path: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.fail(path, value, 'true or false');
      return fallback;
    }
    return value;
  }

  string(path: string, value: unknown, fallback: string | undefined, pattern?: RegExp, describe = 'a non-empty string'): string {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string' || value.length === 0 || (pattern && !pattern.test(value))) {
      this.fail(path, value, describe);
      return fallback ?? '';
    }
    return value;
  }

  oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[], fallback: T | undefined): T {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(path, value, `one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`);
      return fallback ?? allowed[0];
    }
    return value as T;
  }

  strings(path: string, value: unknown, fallback: readonly string[]): readonly string[] {
    if (value === undefined) return fallback;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.length === 0)) {
      this.fail(path, value, 'an array of non-empty strings');
      return fallback;
    }
    return value as string[];
  }

  stringMap(path: string, value: unknown): Readonly<Record<string, string>> {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
      this.fail(path, value, 'an object of string values');
      return {};
    }
    return value as Record<string, string>;
  }

  url(path: string, value: unknown): string {
    const text = this.string(path, value, undefined, undefined, 'an http:// or https:// URL');
    if (!text) return text;
    try {
      const parsed = new URL(text);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') this.fail(path, value, 'an http:// or https:// URL');
    } catch {
      this.fail(path, value, 'an http:// or https:// URL');
    }
    return text;
  }

  backoff(path: string, value: unknown): ResolvedBackoff {
    const doc = this.object(path, value, ['initialDelayMs', 'maxDelayMs']) ?? {};
    const initialDelayMs = this.int(`${path}.initialDelayMs`, doc.initialDelayMs, 1, 3_600_000, 250);
    const maxDelayMs = this.int(`${path}.maxDelayMs`, doc.maxDelayMs, 1, 3_600_000, Math.max(10_000, initialDelayMs));
    if (maxDelayMs < initialDelayMs) this.fail(`${path}.maxDelayMs`, maxDelayMs, `at least initialDelayMs (${initialDelayMs})`);
    return { initialDelayMs, maxDelayMs };
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_LABEL_TEXT = 'a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters, starting and ending alphanumeric)';

function readBackend(r: Reader, value: unknown): ResolvedBackendConfig {
  const head = r.object('backend', value, ['type', 'command', 'args', 'env', 'cwd', 'restart', 'namespace', 'pod', 'labelSelector', 'container', 'kubeconfig', 'protocol', 'reconnect', 'idleProbeMs', 'url', 'transport'], true);
  if (!head) return { type: 'spawn', command: '', args: [], env: {}, restart: { initialDelayMs: 250, maxDelayMs: 10_000 } };
  const type = r.oneOf('backend.type', head.type, ['spawn', 'attach', 'http'], undefined);
  const fields: Record<typeof type, readonly string[]> = {
    spawn: ['type', 'command', 'args', 'env', 'cwd', 'restart'],
    attach: ['type', 'namespace', 'pod', 'labelSelector', 'container', 'kubeconfig', 'protocol', 'reconnect', 'idleProbeMs'],
    http: ['type', 'url', 'transport'],
  };
  for (const key of Object.keys(head)) {
    if (!fields[type].includes(key) && fields.spawn.concat(fields.attach, fields.http).includes(key)) {
      r.problems.push(`backend.${key}: not a field of a "${type}" backend; allowed fields are ${fields[type].join(', ')}`);
    }
  }
  if (type === 'spawn') {
    const spawn: ResolvedSpawnBackend = {
      type,
      command: r.string('backend.command', head.command, undefined, undefined, 'the executable to run (a non-empty string)'),
      args: r.strings('backend.args', head.args, []),
      env: r.stringMap('backend.env', head.env),
      restart: r.backoff('backend.restart', head.restart),
    };
    return head.cwd === undefined ? spawn : { ...spawn, cwd: r.string('backend.cwd', head.cwd, undefined) };
  }
  if (type === 'attach') {
    if ((head.pod === undefined) === (head.labelSelector === undefined)) {
      r.problems.push(`backend: pod ${show(head.pod)} and labelSelector ${show(head.labelSelector)}: exactly one of them must be set`);
    }
    const attach: ResolvedAttachBackend = {
      type,
      namespace: r.string('backend.namespace', head.namespace, undefined, DNS_LABEL, DNS_LABEL_TEXT),
      container: r.string('backend.container', head.container, 'mcp', DNS_LABEL, DNS_LABEL_TEXT),
      protocol: r.oneOf('backend.protocol', head.protocol, ['v5', 'v4', 'auto'], 'auto'),
      reconnect: r.backoff('backend.reconnect', head.reconnect),
      idleProbeMs: r.int('backend.idleProbeMs', head.idleProbeMs, 0, 86_400_000, 30_000),
      ...(head.pod !== undefined ? { pod: r.string('backend.pod', head.pod, undefined, /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a pod name (DNS-1123 subdomain)') } : {}),
      ...(head.labelSelector !== undefined ? { labelSelector: r.string('backend.labelSelector', head.labelSelector, undefined) } : {}),
      ...(head.kubeconfig !== undefined ? { kubeconfig: r.string('backend.kubeconfig', head.kubeconfig, undefined) } : {}),
    };
    return attach;
  }
  return {
    type,
    url: r.url('backend.url', head.url),
    transport: r.oneOf('backend.transport', head.transport, ['streamable-http', 'sse'], undefined),
  };
}

/**
 * Checks an untrusted configuration document (parsed JSON) and returns it with every default
 * filled in. Throws `ProxyConfigError` listing every problem found.
 */
export function validateProxyConfig(doc: unknown): ResolvedProxyConfig {
  const r = new Reader();
  const root = r.object('config', doc, ['server', 'backend', 'listen', 'limits', 'security', 'telemetry', 'logging'], true) ?? {};
  const server = r.string('server', root.server, undefined, DNS_LABEL, DNS_LABEL_TEXT);
  const backend = readBackend(r, root.backend);

  const listenDoc = r.object('listen', root.listen, ['host', 'port', 'metricsHost', 'metricsPort']) ?? {};
  const host = r.string('listen.host', listenDoc.host, '0.0.0.0');
  const listen: Required<ListenConfig> = {
    host,
    port: r.int('listen.port', listenDoc.port, 0, 65_535, 8080),
    metricsHost: r.string('listen.metricsHost', listenDoc.metricsHost, host),
    metricsPort: r.int('listen.metricsPort', listenDoc.metricsPort, 0, 65_535, 9464),
  };
  if (listen.port !== 0 && listen.port === listen.metricsPort) {
    r.fail('listen.metricsPort', listen.metricsPort, `a port other than listen.port (${listen.port})`);
  }

  const limitsDoc = r.object('limits', root.limits, ['maxBodyBytes', 'requestTimeoutMs', 'maxSessions', 'sessionIdleTimeoutMs', 'maxInFlight', 'maxStdinBacklogBytes', 'backendWaitMs', 'shutdownGraceMs']) ?? {};
  // Headroom below the stdio line limit: the forwarded line is the body plus a rewritten id and, with
  // tracing, a traceparent.
  const bodyCap = backend.type === 'http' ? 1024 * 1024 * 1024 : STDIO_LINE_LIMIT_BYTES - 64 * 1024;
  const limits: Required<LimitsConfig> = {
    maxBodyBytes: r.int('limits.maxBodyBytes', limitsDoc.maxBodyBytes, 1, bodyCap, 4 * 1024 * 1024),
    requestTimeoutMs: r.int('limits.requestTimeoutMs', limitsDoc.requestTimeoutMs, 1, 86_400_000, 60_000),
    maxSessions: r.int('limits.maxSessions', limitsDoc.maxSessions, 1, 10_000_000, 10_000),
    sessionIdleTimeoutMs: r.int('limits.sessionIdleTimeoutMs', limitsDoc.sessionIdleTimeoutMs, 1, 604_800_000, 1_800_000),
    maxInFlight: r.int('limits.maxInFlight', limitsDoc.maxInFlight, 1, 1_000_000, 4096),
    maxStdinBacklogBytes: r.int('limits.maxStdinBacklogBytes', limitsDoc.maxStdinBacklogBytes, 65_536, 1024 * 1024 * 1024, 16 * 1024 * 1024),
    backendWaitMs: r.int('limits.backendWaitMs', limitsDoc.backendWaitMs, 0, 3_600_000, 10_000),
    shutdownGraceMs: r.int('limits.shutdownGraceMs', limitsDoc.shutdownGraceMs, 0, 3_600_000, 20_000),
  };

  const securityDoc = r.object('security', root.security, ['allowedOrigins', 'allowedHosts']) ?? {};
  const security = {
    allowedOrigins: r.strings('security.allowedOrigins', securityDoc.allowedOrigins, []),
    allowedHosts: r.strings('security.allowedHosts', securityDoc.allowedHosts, DEFAULT_ALLOWED_HOSTS),
  };

  const telemetryDoc = r.object('telemetry', root.telemetry, ['serviceName', 'otlp']) ?? {};
  const otlpDoc = r.object('telemetry.otlp', telemetryDoc.otlp, ['endpoint', 'headers', 'traces', 'metrics', 'samplingRatio', 'metricsExportIntervalMs']);
  const telemetry = {
    serviceName: r.string('telemetry.serviceName', telemetryDoc.serviceName, server || 'toolhive-proxy'),
    ...(otlpDoc
      ? {
          otlp: {
            endpoint: r.url('telemetry.otlp.endpoint', otlpDoc.endpoint),
            headers: r.stringMap('telemetry.otlp.headers', otlpDoc.headers),
            traces: r.bool('telemetry.otlp.traces', otlpDoc.traces, true),
            metrics: r.bool('telemetry.otlp.metrics', otlpDoc.metrics, true),
            samplingRatio: r.ratio('telemetry.otlp.samplingRatio', otlpDoc.samplingRatio, 1),
            metricsExportIntervalMs: r.int('telemetry.otlp.metricsExportIntervalMs', otlpDoc.metricsExportIntervalMs, 100, 3_600_000, 15_000),
          },
        }
      : {}),
  };

  const loggingDoc = r.object('logging', root.logging, ['level']) ?? {};
  const logging: Required<LoggingConfig> = { level: r.oneOf('logging.level', loggingDoc.level, ['debug', 'info', 'warn', 'error'], 'info') };

  if (r.problems.length > 0) throw new ProxyConfigError(r.problems);
  return { server, backend, listen, limits, security, telemetry, logging };
}

/** A resolved config is also a valid `ProxyConfig` (the construct side writes this shape). */
export const asProxyConfig = (config: ResolvedProxyConfig): ProxyConfig => config;
