/**
 * The configuration validator (the construct calls it at synth time) and the CLI's flags.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromArgs } from '../../proxy/src/cli-args.ts';
import { ProxyConfigError, validateProxyConfig, DEFAULT_ALLOWED_HOSTS } from '../../proxy/src/config.ts';

const spawnBackend = { type: 'spawn', command: 'node', args: ['server.js'] };

const problemsOf = (doc: unknown): readonly string[] => {
  try {
    validateProxyConfig(doc);
  } catch (error) {
    if (error instanceof ProxyConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the document to be refused');
};

describe('validateProxyConfig', () => {
  it('fills in every default', () => {
    expect(validateProxyConfig({ server: 'fetch', backend: spawnBackend })).toEqual({
      server: 'fetch',
      backend: { type: 'spawn', command: 'node', args: ['server.js'], env: {}, restart: { initialDelayMs: 250, maxDelayMs: 10_000 } },
      listen: { host: '0.0.0.0', port: 8080, metricsHost: '0.0.0.0', metricsPort: 9464 },
      limits: { maxBodyBytes: 4_194_304, requestTimeoutMs: 60_000, maxSessions: 10_000, sessionIdleTimeoutMs: 1_800_000, maxInFlight: 4096, maxStdinBacklogBytes: 16_777_216, backendWaitMs: 10_000, shutdownGraceMs: 20_000 },
      security: { allowedOrigins: [], allowedHosts: DEFAULT_ALLOWED_HOSTS },
      telemetry: { serviceName: 'fetch' },
      logging: { level: 'info' },
    });
  });

  it('accepts its own output (the construct may validate twice)', () => {
    const resolved = validateProxyConfig({ server: 'fetch', backend: spawnBackend, telemetry: { otlp: { endpoint: 'http://collector:4318' } } });
    expect(validateProxyConfig(resolved)).toEqual(resolved);
  });

  it('fills attach defaults', () => {
    const config = validateProxyConfig({ server: 'fetch', backend: { type: 'attach', namespace: 'mcp', pod: 'fetch-0' } });
    expect(config.backend).toEqual({ type: 'attach', namespace: 'mcp', pod: 'fetch-0', container: 'mcp', protocol: 'auto', idleProbeMs: 30_000, reconnect: { initialDelayMs: 250, maxDelayMs: 10_000 } });
  });

  it('fills OTLP defaults', () => {
    const config = validateProxyConfig({ server: 'fetch', backend: spawnBackend, telemetry: { otlp: { endpoint: 'http://collector:4318' } } });
    expect(config.telemetry.otlp).toEqual({ endpoint: 'http://collector:4318', headers: {}, traces: true, metrics: true, samplingRatio: 1, metricsExportIntervalMs: 15_000 });
  });

  it.each([
    [{ server: 'Fetch', backend: spawnBackend }, 'server: "Fetch" is not allowed: expected a DNS-1123 label'],
    [{ server: 'fetch', backend: { type: 'ftp' } }, 'backend.type: "ftp" is not allowed: expected one of "spawn", "attach", "http"'],
    [{ server: 'fetch', backend: { type: 'spawn' } }, 'backend.command: undefined is not allowed: expected the executable to run'],
    [{ server: 'fetch', backend: spawnBackend, listen: { port: 70_000 } }, 'listen.port: 70000 is not allowed: expected an integer from 0 to 65535'],
    [{ server: 'fetch', backend: spawnBackend, limits: { maxBodyBytes: 11 * 1024 * 1024 } }, 'limits.maxBodyBytes: 11534336 is not allowed: expected an integer from 1 to 10420224'],
    [{ server: 'fetch', backend: spawnBackend, limits: { requestTimeoutMs: '60s' } }, 'limits.requestTimeoutMs: "60s" is not allowed: expected an integer'],
    [{ server: 'fetch', backend: spawnBackend, limits: { maxSesions: 5 } }, 'limits.maxSesions: unknown field'],
    [{ server: 'fetch', backend: { type: 'attach', namespace: 'mcp' } }, 'exactly one of them must be set'],
    [{ server: 'fetch', backend: { type: 'http', url: 'ftp://x', transport: 'sse' } }, 'backend.url: "ftp://x" is not allowed: expected an http:// or https:// URL'],
    [{ server: 'fetch', backend: { type: 'http', url: 'http://x', transport: 'sse', command: 'node' } }, 'backend.command: not a field of a "http" backend'],
    [{ server: 'fetch', backend: spawnBackend, telemetry: { otlp: { endpoint: 'http://c:4318', samplingRatio: 2 } } }, 'telemetry.otlp.samplingRatio: 2 is not allowed: expected a number from 0 to 1'],
    [{ server: 'fetch', backend: spawnBackend, logging: { level: 'trace' } }, 'logging.level: "trace" is not allowed: expected one of "debug", "info", "warn", "error"'],
    [{ server: 'fetch', backend: spawnBackend, security: { allowedHosts: 'localhost' } }, 'security.allowedHosts: "localhost" is not allowed: expected an array of non-empty strings'],
    [{ server: 'fetch', backend: spawnBackend, listen: { port: 9000, metricsPort: 9000 } }, 'listen.metricsPort: 9000 is not allowed: expected a port other than listen.port'],
    [{ server: 'fetch', backend: spawnBackend, limits: { maxStdinBacklogBytes: 4096 } }, 'limits.maxStdinBacklogBytes: 4096 is not allowed'],
  ])('fails on %j naming the field, the value and what is allowed', (doc, message) => {
    expect(problemsOf(doc).join('\n')).toContain(message);
  });

  it('reports every problem of a document at once', () => {
    expect(problemsOf({ server: '', backend: { type: 'spawn' }, limits: { maxInFlight: 0 } })).toHaveLength(3);
  });

  it('fails on a document that is not an object', () => {
    expect(() => validateProxyConfig('server: fetch')).toThrow(/config: "server: fetch" is not allowed: expected an object/);
  });
});

describe('CLI flags', () => {
  it('spawns the command after -- with flags as config', () => {
    const { config } = configFromArgs(['--port', '9090', '--max-in-flight', '64', '--max-stdin-backlog-bytes', '1048576', '--allowed-host', 'example.com', '--', 'npx', '-y', 'server', '--flag']);
    expect(config).toEqual({
      server: 'mcp',
      backend: { type: 'spawn', command: 'npx', args: ['-y', 'server', '--flag'] },
      listen: { port: 9090 },
      limits: { maxInFlight: 64, maxStdinBacklogBytes: 1_048_576 },
      security: { allowedHosts: ['example.com'] },
    });
    expect(validateProxyConfig(config).limits.maxInFlight).toBe(64);
  });

  it('lets flags override the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'proxy-cli-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ server: 'fetch', backend: { type: 'attach', namespace: 'mcp', pod: 'fetch-0' }, listen: { port: 8080, metricsPort: 9464 } }));
    const { config } = configFromArgs(['--config', file, '--port', '8181', '--log-level', 'debug']);
    expect(config).toMatchObject({ server: 'fetch', backend: { type: 'attach', pod: 'fetch-0' }, listen: { port: 8181, metricsPort: 9464 }, logging: { level: 'debug' } });
  });

  it('passes a bad flag value to the validator, which names it', () => {
    const { config } = configFromArgs(['--port', 'eighty', '--', 'node']);
    expect(() => validateProxyConfig(config)).toThrow(/listen.port: "eighty" is not allowed/);
  });

  it('names the config file that cannot be read or parsed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'proxy-cli-'));
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"server": ');
    expect(() => configFromArgs(['--config', file])).toThrow(new RegExp(`config file ${file} is not valid JSON`));
    expect(() => configFromArgs(['--config', join(dir, 'missing.json')])).toThrow(/cannot read config file .*missing.json/);
  });

  it('fails on an unknown flag', () => {
    expect(() => configFromArgs(['--prot', '80'])).toThrow(/Unknown option '--prot'/);
  });
});

describe('the toolhive-proxy process', () => {
  const cli = fileURLToPath(new URL('../../proxy/src/cli.ts', import.meta.url));
  const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 15_000 });

  it('documents every flag with --help', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    for (const flag of ['--config', '--host', '--port', '--metrics-port', '--max-body-bytes', '--request-timeout-ms', '--max-sessions', '--max-in-flight', '--max-stdin-backlog-bytes', '--shutdown-grace-ms', '--allowed-host', '--http']) {
      expect(result.stdout).toContain(flag);
    }
  });

  it('exits 2 naming the bad field of an invalid configuration', () => {
    const result = run(['--port', '70000', '--', 'node']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('listen.port: 70000 is not allowed: expected an integer from 0 to 65535');
  });

  it('exits 2 without a backend', () => {
    const result = run(['--port', '8080']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no backend');
  });
});
