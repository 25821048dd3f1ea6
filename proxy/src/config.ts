/**
 * The proxy's configuration: one JSON document (`toolhive-proxy --config FILE`).
 *
 * This type is the contract between the proxy and the ToolHiveProxy construct, which builds a
 * `ProxyConfig` and writes it into the proxy's ConfigMap: both sides compile against this file, so
 * they cannot drift. `validateProxyConfig` checks an untrusted document and fills in defaults.
 *
 * Fields may be added (optional, with a default); renaming or removing one breaks deployed ConfigMaps.
 */

/** Settings for the client-facing HTTP listener and the metrics listener. */
export interface ListenConfig {
  /** Address of the MCP listener (`/mcp`, `/sse`, `/messages`, `/healthz`, `/readyz`). @default "0.0.0.0" */
  readonly host?: string;
  /** Port of the MCP listener. @default 8080 */
  readonly port?: number;
  /** Address of the Prometheus `/metrics` listener. @default same as `host` */
  readonly metricsHost?: string;
  /** Port of the Prometheus `/metrics` listener; 0 disables it. @default 9464 */
  readonly metricsPort?: number;
}

/** Restart behaviour after a backend is lost: capped exponential backoff with jitter. */
export interface BackoffConfig {
  /** First delay. @default 250 */
  readonly initialDelayMs?: number;
  /** Upper bound of the delay. @default 10000 */
  readonly maxDelayMs?: number;
}

/** A local child process speaking MCP over stdio (development, tests, benchmarks). */
export interface SpawnBackendConfig {
  readonly type: 'spawn';
  /** Executable to run (resolved on PATH). */
  readonly command: string;
  /** Arguments. @default [] */
  readonly args?: readonly string[];
  /** Extra environment variables, merged over the proxy's own. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory. @default the proxy's */
  readonly cwd?: string;
  /** Restart backoff after the child exits. @default {initialDelayMs: 250, maxDelayMs: 10000} */
  readonly restart?: BackoffConfig;
}

/** The container `mcp` of a pod, reached through the Kubernetes `pods/attach` API. */
export interface AttachBackendConfig {
  readonly type: 'attach';
  /** Namespace of the MCP server's pod. */
  readonly namespace: string;
  /** Pod name, e.g. `fetch-0` for the StatefulSet `fetch`. Exactly one of `pod` and `labelSelector`. */
  readonly pod?: string;
  /** Label selector of the pod, when the name is not fixed. Exactly one of `pod` and `labelSelector`. */
  readonly labelSelector?: string;
  /** Container to attach to. @default "mcp" */
  readonly container?: string;
  /** Path of a kubeconfig for runs outside a cluster. @default in-cluster ServiceAccount credentials */
  readonly kubeconfig?: string;
  /**
   * WebSocket subprotocol: `v5` (`v5.channel.k8s.io`), `v4` (`v4.channel.k8s.io`), or `auto`: offer v4 alone first
   * (the apiserver translates any connection that offers v5 through SPDY, which measured ~60% slower),
   * and fall back to v5 when the server refuses v4.
   * @default "auto"
   */
  readonly protocol?: 'v5' | 'v4' | 'auto';
  /** Re-attach backoff. @default {initialDelayMs: 250, maxDelayMs: 10000} */
  readonly reconnect?: BackoffConfig;
  /** A connection that received nothing for this long (writes do not count) is probed with an MCP ping; 0 disables. @default 30000 */
  readonly idleProbeMs?: number;
}

/** An MCP server that already speaks HTTP (the `streamable-http` and `sse` transports). */
export interface HttpBackendConfig {
  readonly type: 'http';
  /** The server's MCP endpoint, e.g. `http://gofetch-0.gofetch.mcp-servers.svc:8080/mcp`. */
  readonly url: string;
  /** The transport the server speaks at `url`. */
  readonly transport: 'streamable-http' | 'sse';
}

export type BackendConfig = SpawnBackendConfig | AttachBackendConfig | HttpBackendConfig;

/** Bounds on what clients may ask of the proxy; each breach is a clear HTTP or JSON-RPC error. */
export interface LimitsConfig {
  /** Largest request body; beyond it 413. Well below the 10 MiB at which MCP SDK stdio servers exit. @default 4194304 */
  readonly maxBodyBytes?: number;
  /** A request with no response after this long gets a JSON-RPC error and the backend a cancellation. @default 60000 */
  readonly requestTimeoutMs?: number;
  /** Live sessions at most; a new `initialize` beyond it gets 503. @default 10000 */
  readonly maxSessions?: number;
  /** A session with no request and no open stream for this long expires (404 afterwards). @default 1800000 */
  readonly sessionIdleTimeoutMs?: number;
  /** Requests in flight to the backend at most; beyond it 503 with `Retry-After`. @default 4096 */
  readonly maxInFlight?: number;
  /**
   * Bytes sent toward the server's stdin and not yet taken by it (what the proxy holds; the kernel and,
   * for attach, the API server hold some more). At this many, a server that stopped reading is
   * presumed stuck: new requests get 503 with `Retry-After` and `/readyz` fails until the backlog is
   * under half; notifications and answers to the server's requests are still taken up to twice it.
   * @default 16777216
   */
  readonly maxStdinBacklogBytes?: number;
  /** While the backend is not ready, a new request waits this long for recovery before 503. @default 10000 */
  readonly backendWaitMs?: number;
  /** On SIGTERM, in-flight requests get this long to finish before the proxy closes. @default 20000 */
  readonly shutdownGraceMs?: number;
}

/** DNS-rebinding protection (required of HTTP MCP servers by the spec). */
export interface SecurityConfig {
  /** Allowed `Origin` header values; requests without `Origin` (non-browser clients) pass. @default [] (none: any Origin is refused) */
  readonly allowedOrigins?: readonly string[];
  /**
   * Allowed `Host` header values (host, or host:port; a leading `*.` matches subdomains).
   * An empty list allows any host.
   * @default ["localhost", "127.0.0.1", "[::1]", "*.svc", "*.svc.cluster.local"] plus the pod's own IP
   */
  readonly allowedHosts?: readonly string[];
}

/** OTLP/HTTP export of traces and metrics. */
export interface OtlpConfig {
  /** Collector base URL, e.g. `http://otel-collector.monitoring:4318`; `/v1/traces` and `/v1/metrics` are appended. */
  readonly endpoint: string;
  /** Extra HTTP headers sent with every export (e.g. tenant id). @default {} */
  readonly headers?: Readonly<Record<string, string>>;
  /** Export traces. @default true */
  readonly traces?: boolean;
  /** Export metrics. @default true */
  readonly metrics?: boolean;
  /** Fraction of new traces sampled (parent-based). @default 1 */
  readonly samplingRatio?: number;
  /** Interval of metric exports. @default 15000 */
  readonly metricsExportIntervalMs?: number;
}

export interface TelemetryConfig {
  /** `service.name` of traces and OTLP metrics. @default the server name */
  readonly serviceName?: string;
  /** OTLP export; absent means none (Prometheus `/metrics` is always served unless `metricsPort` is 0). */
  readonly otlp?: OtlpConfig;
}

export interface LoggingConfig {
  /** Lowest level written. @default "info" */
  readonly level?: 'debug' | 'info' | 'warn' | 'error';
}

export interface ProxyConfig {
  /** Name of the MCP server: the `server` label of every metric and field of every log line. DNS-1123 label. */
  readonly server: string;
  readonly backend: BackendConfig;
  readonly listen?: ListenConfig;
  readonly limits?: LimitsConfig;
  readonly security?: SecurityConfig;
  readonly telemetry?: TelemetryConfig;
  readonly logging?: LoggingConfig;
}

export {
  validateProxyConfig,
  ProxyConfigError,
  DEFAULT_ALLOWED_HOSTS,
  STDIO_LINE_LIMIT_BYTES,
} from './config-validate.ts';
export type {
  ResolvedProxyConfig,
  ResolvedBackendConfig,
  ResolvedSpawnBackend,
  ResolvedAttachBackend,
  ResolvedBackoff,
} from './config-validate.ts';
