/**
 * Every metric the proxy exports, defined once. The Prometheus registry (prom-client), the OTLP
 * instruments and the ObservabilityStack's dashboard and alerts all read these definitions, so a
 * PromQL expression can only reference a name that exists.
 *
 * `otel` gives the OpenTelemetry instrument name and unit chosen so that an OTel Collector's
 * Prometheus exporter (and `prometheusremotewrite`) translate it back to exactly `name`
 * (counters gain `_total`, a unit `s` gains `_seconds`, a gauge of unit `1` would gain `_ratio`,
 * so counts carry `{annotation}` units, which add nothing), keeping dashboards identical whether
 * Prometheus scrapes the proxy directly or reads it through the collector.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition {
  /** The Prometheus name as scraped from `/metrics` (without `_bucket`/`_sum`/`_count`). */
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  /** Histogram bucket upper bounds, in the metric's unit. */
  readonly buckets?: readonly number[];
  readonly otel: { readonly name: string; readonly unit: string };
}

/** Request latency buckets in seconds: sub-millisecond proxy overhead up to long tool calls. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const METRICS = {
  requests: {
    name: 'toolhive_mcp_requests_total',
    type: 'counter',
    help: 'MCP requests handled, by MCP method and outcome (status: success, error, timeout, rejected).',
    labels: ['server', 'method', 'status', 'transport'],
    otel: { name: 'toolhive_mcp_requests', unit: '{request}' },
  },
  requestDuration: {
    name: 'toolhive_mcp_request_duration_seconds',
    type: 'histogram',
    help: 'Time from receiving an MCP request to sending its response, in seconds.',
    labels: ['server', 'method', 'status', 'transport'],
    buckets: LATENCY_BUCKETS,
    otel: { name: 'toolhive_mcp_request_duration', unit: 's' },
  },
  toolCalls: {
    name: 'toolhive_mcp_tool_calls_total',
    type: 'counter',
    help: 'tools/call requests by tool (names announced by the server; anything else is "other") and outcome.',
    labels: ['server', 'tool', 'status'],
    otel: { name: 'toolhive_mcp_tool_calls', unit: '{call}' },
  },
  activeConnections: {
    name: 'toolhive_mcp_active_connections',
    type: 'gauge',
    help: 'Open client connections: HTTP requests in progress and open SSE streams, by transport.',
    labels: ['server', 'transport'],
    otel: { name: 'toolhive_mcp_active_connections', unit: '{connection}' },
  },
  sessions: {
    name: 'toolhive_mcp_sessions',
    type: 'gauge',
    help: 'Live MCP client sessions, by transport.',
    labels: ['server', 'transport'],
    otel: { name: 'toolhive_mcp_sessions', unit: '{session}' },
  },
  inFlight: {
    name: 'toolhive_mcp_inflight_requests',
    type: 'gauge',
    help: 'Requests sent to the backend and not yet answered.',
    labels: ['server'],
    otel: { name: 'toolhive_mcp_inflight_requests', unit: '{request}' },
  },
  backendUp: {
    name: 'toolhive_mcp_backend_up',
    type: 'gauge',
    help: '1 when the backend is connected and its MCP handshake is done, else 0.',
    labels: ['server', 'backend'],
    otel: { name: 'toolhive_mcp_backend_up', unit: '' },
  },
  stdinBacklog: {
    name: 'toolhive_mcp_backend_stdin_backlog_bytes',
    type: 'gauge',
    help: "Bytes sent toward the stdio server's stdin that it has not taken yet, as far as the proxy holds them (stream backends only).",
    labels: ['server'],
    otel: { name: 'toolhive_mcp_backend_stdin_backlog', unit: 'By' },
  },
  backendRestarts: {
    name: 'toolhive_mcp_backend_restarts_total',
    type: 'counter',
    help: 'Times the backend was lost and had to be recovered (child exit, container restart, dropped attach).',
    labels: ['server', 'backend', 'reason'],
    otel: { name: 'toolhive_mcp_backend_restarts', unit: '{restart}' },
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;
