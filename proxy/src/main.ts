/**
 * Wires the proxy together: config → backend → multiplexer → fronts, telemetry, the shared sweep
 * timer, and shutdown. `startProxy` is the in-process API (tests, benchmarks); `cli.ts` runs it as
 * a process.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBackend } from './backends/index.ts';
import { systemClock, type Clock, type StreamBackend } from './backends/types.ts';
import { validateProxyConfig, type ResolvedProxyConfig } from './config-validate.ts';
import type { ProxyConfig } from './config.ts';
import { createFront } from './front/server.ts';
import type { FrontContext } from './front/messages.ts';
import { createHttpProxyFront } from './http-proxy/front.ts';
import { createLogger, type Logger } from './log.ts';
import { Multiplexer } from './mux/multiplexer.ts';
import { createTelemetry, type ProxyTelemetry } from './telemetry/index.ts';

export interface ProxyDeps {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** A stream backend to use instead of the one the config names (tests). */
  readonly backend?: StreamBackend;
}

export interface RunningProxy {
  /** Base URL of the MCP listener, e.g. `http://127.0.0.1:8080` (MCP at `${url}/mcp`). */
  readonly url: string;
  /** `http://host:port/metrics`, or undefined when `metricsPort` is 0. */
  readonly metricsUrl: string | undefined;
  readonly config: ResolvedProxyConfig;
  readonly telemetry: ProxyTelemetry;
  /** The multiplexer (undefined for the http backend). */
  readonly mux: Multiplexer | undefined;
  /** The stream backend (undefined for the http backend). */
  readonly backend: StreamBackend | undefined;
  /** True once the backend is ready (stream backends: connected and initialized). */
  ready(): boolean;
  /**
   * Graceful stop: refuse new work, let requests in flight finish within `graceMs`
   * (default `limits.shutdownGraceMs`), then close everything.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Connections the kernel may hold for `accept()`. Node's default, 511, overflows when many clients
 * connect at once (a benchmark cell of 1,000 clients, every client of a restarted proxy coming back):
 * the kernel then drops their SYNs and each such client waits for its SYN retransmit, 1 s later.
 * The kernel caps the value at `net.core.somaxconn` (4096 by default since Linux 5.4).
 */
export const LISTEN_BACKLOG = 4096;

const listen = (server: Server, port: number, host: string): Promise<AddressInfo> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });

const urlOf = (address: AddressInfo): string => {
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
};

const closeServer = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

export async function startProxy(input: ProxyConfig, deps: ProxyDeps = {}): Promise<RunningProxy> {
  const config = validateProxyConfig(input);
  const clock = deps.clock ?? systemClock;
  const logger = (deps.logger ?? createLogger({ level: config.logging.level })).child({ server: config.server });
  const built = deps.backend ? ({ type: 'stream', backend: deps.backend } as const) : await createBackend(config.backend, { logger: logger.child({ component: 'backend' }), clock });
  const telemetry = await createTelemetry(config, built.type === 'stream' ? built.backend.kind : 'http', logger);

  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (config.listen.metricsPort !== 0) {
    metricsServer = createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end('metrics are at /metrics\n');
        return;
      }
      telemetry.prometheus.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': telemetry.prometheus.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    });
    try {
      metricsUrl = `${urlOf(await listen(metricsServer, config.listen.metricsPort, config.listen.metricsHost))}/metrics`;
    } catch (error) {
      await telemetry.shutdown();
      throw error;
    }
  }
  /** Listens on the MCP port; on failure releases what was opened so far (nothing is left running). */
  const listenOrRelease = async (server: Server): Promise<string> => {
    try {
      return urlOf(await listen(server, config.listen.port, config.listen.host));
    } catch (error) {
      if (metricsServer) await closeServer(metricsServer);
      await telemetry.shutdown();
      throw error;
    }
  };

  if (built.type === 'http') {
    const front = createHttpProxyFront({ config, upstream: built.config, logger, telemetry, clock });
    const url = await listenOrRelease(front.server);
    logger.info('proxy listening', { url, metricsUrl, backend: 'http', upstream: built.config.url });
    return {
      url, metricsUrl, config, telemetry, mux: undefined, backend: undefined,
      ready: () => !front.draining,
      async shutdown(graceMs = config.limits.shutdownGraceMs) {
        await front.drain(graceMs);
        await Promise.all([closeServer(front.server), metricsServer && closeServer(metricsServer)]);
        await telemetry.shutdown();
      },
    };
  }

  const backend = built.backend;
  const mux = new Multiplexer({ backend, config, logger: logger.child({ component: 'mux' }), clock, telemetry });
  const ctx: FrontContext = {
    mux, config, logger, clock, telemetry,
    connections: { 'streamable-http': 0, sse: 0 },
    streams: new Set(),
    draining: false,
  };
  telemetry.bindGauges({
    connections: (transport) => ctx.connections[transport],
    sessions: (transport) => mux.sessions.count(transport),
    inFlight: () => mux.inFlight,
    backendUp: () => mux.lifecycle.ready,
    stdinBacklog: () => mux.stdinBacklog,
  });
  const front = createFront(ctx);

  // One timer drives every timeout: requests, server requests, readiness waits, idle sessions and
  // SSE keep-alives. No request owns a timer.
  const sweepEvery = Math.min(1_000, Math.max(20, Math.floor(config.limits.requestTimeoutMs / 10)));
  const sessionSweepEvery = Math.min(10_000, Math.max(sweepEvery, Math.floor(config.limits.sessionIdleTimeoutMs / 4)));
  const keepAliveEvery = 15_000;
  let lastSessionSweep = clock.now();
  let lastKeepAlive = clock.now();
  let sweepTimer: unknown;
  let stopped = false;
  const sweep = (): void => {
    if (stopped) return;
    const now = clock.now();
    const sessionsToo = now - lastSessionSweep >= sessionSweepEvery;
    if (sessionsToo) lastSessionSweep = now;
    mux.sweep(now, sessionsToo);
    if (now - lastKeepAlive >= keepAliveEvery) {
      lastKeepAlive = now;
      front.keepAliveStreams();
    }
    sweepTimer = clock.setTimeout(sweep, sweepEvery);
    (sweepTimer as { unref?: () => void }).unref?.();
  };

  // Listen before starting the backend: if the port is taken, no child process is left behind.
  const url = await listenOrRelease(front.server);
  mux.start();
  sweep();
  logger.info('proxy listening', { url, metricsUrl, backend: backend.kind });

  let shuttingDown: Promise<void> | undefined;
  const shutdown = async (graceMs: number): Promise<void> => {
    ctx.draining = true;
    logger.info('shutting down: draining', { inFlight: mux.inFlight, graceMs });
    const closed = closeServer(front.server);
    front.server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (mux.inFlight > 0 || ctx.connections['streamable-http'] + ctx.connections.sse > ctx.streams.size)) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      front.server.closeIdleConnections();
    }
    if (mux.inFlight > 0) logger.warn('shutdown grace period over: failing requests still in flight', { inFlight: mux.inFlight });
    stopped = true;
    if (sweepTimer !== undefined) clock.clearTimeout(sweepTimer);
    mux.stop('proxy shutting down');
    for (const stream of [...ctx.streams]) stream.close();
    front.server.closeAllConnections();
    await Promise.all([closed, backend.stop(), metricsServer && closeServer(metricsServer)]);
    await telemetry.shutdown();
    logger.info('shutdown complete');
  };

  return {
    url, metricsUrl, config, telemetry, mux, backend,
    ready: () => mux.lifecycle.ready && !ctx.draining,
    shutdown: (graceMs = config.limits.shutdownGraceMs) => (shuttingDown ??= shutdown(graceMs)),
  };
}
