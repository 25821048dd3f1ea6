/**
 * The alerting rules of the ObservabilityStack: what each one watches, why its threshold, and what to
 * do when it fires (the `runbook` annotation; docs/observability.md tells the same story at length).
 * Expressions are built from the proxy's METRICS through the query helpers, never typed by hand.
 */
import { METRICS } from '../proxy/src/telemetry/metric-definitions.ts';
import {
  backendRestarts, backendUp, errorRatio, gaugeFloor, latencyQuantile, perServer, requestIncrease, requestRate, toolCallIncrease, toolFailureRatio,
} from './_observability-queries.ts';

/** Thresholds of the alerts. */
export interface AlertThresholds {
  /** Failed requests / all requests per server above which `McpServerErrorRatioHigh` fires. @default 0.05 */
  readonly errorRatio?: number;
  /**
   * p99 request latency per server, in seconds, above which `McpServerLatencyP99High` fires. Must be a
   * bucket bound of the request-duration histogram: between bounds, histogram_quantile() only
   * interpolates, so any other value would compare against a guess. @default 5
   */
  readonly p99LatencySeconds?: number;
  /** Failed tool calls / all tool calls per tool above which `McpToolFailureRatioHigh` fires. @default 0.2 */
  readonly toolFailureRatio?: number;
  /** Backend restarts per server within 15 minutes above which `McpBackendRestartStorm` fires. @default 3 */
  readonly restartsPer15m?: number;
  /**
   * Bytes waiting for a stdio server's stdin (`toolhive_mcp_backend_stdin_backlog_bytes`) above which,
   * on one replica for 10 minutes without a break, `McpServerStdinStalled` fires. A server that reads
   * its stdin keeps this near zero. @default 1048576 (1 MiB)
   */
  readonly stdinBacklogBytes?: number;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly severity: 'critical' | 'warning' | 'info';
  readonly summary: string;
  readonly description: string;
  readonly runbook: string;
}

/** Below this many requests (or tool calls) in the window a ratio is noise: one failure of one call is 100%. */
const MIN_EVENTS = 10;

export function resolveThresholds(t: AlertThresholds = {}): Required<AlertThresholds> {
  const resolved = {
    errorRatio: t.errorRatio ?? 0.05,
    p99LatencySeconds: t.p99LatencySeconds ?? 5,
    toolFailureRatio: t.toolFailureRatio ?? 0.2,
    restartsPer15m: t.restartsPer15m ?? 3,
    stdinBacklogBytes: t.stdinBacklogBytes ?? 1024 * 1024,
  };
  for (const key of ['errorRatio', 'toolFailureRatio'] as const) {
    const v = resolved[key];
    if (!(v > 0 && v < 1)) throw new Error(`observability stack: alert threshold ${key} ${v} must be a ratio between 0 and 1 (exclusive), e.g. 0.05`);
  }
  const buckets: readonly number[] = METRICS.requestDuration.buckets;
  if (!buckets.includes(resolved.p99LatencySeconds)) {
    throw new Error(`observability stack: alert threshold p99LatencySeconds ${resolved.p99LatencySeconds} is not a bucket bound of `
      + `${METRICS.requestDuration.name}; pick one of ${buckets.join(', ')}`);
  }
  if (!(Number.isInteger(resolved.restartsPer15m) && resolved.restartsPer15m >= 1)) {
    throw new Error(`observability stack: alert threshold restartsPer15m ${resolved.restartsPer15m} must be a positive integer`);
  }
  if (!(Number.isInteger(resolved.stdinBacklogBytes) && resolved.stdinBacklogBytes >= 1)) {
    throw new Error(`observability stack: alert threshold stdinBacklogBytes ${resolved.stdinBacklogBytes} must be a positive whole number of bytes, e.g. 1048576`);
  }
  return resolved;
}

/** How an alert names the server it fires for: two teams may each run a "fetch", in their own namespaces. */
const SERVER = '{{ $labels.namespace }}/{{ $labels.server }}';

export function alertRules(thresholds: Required<AlertThresholds>): AlertRule[] {
  const w5 = { window: '5m' };
  const w15 = { window: '15m' };
  // Every alert is per server identity (namespace, server): the comparisons, and the joins on the
  // traffic guards, so one team's traffic can neither fire nor hide another team's alert.
  const on = `on (${perServer()})`;
  const onTool = `on (${perServer('tool')})`;
  return [
    {
      alert: 'McpServerErrorRatioHigh',
      expr: `(\n${errorRatio(w5)}\n) > ${thresholds.errorRatio}\nand ${on}\n${requestIncrease(w5)} >= ${MIN_EVENTS}`,
      for: '10m',
      severity: 'warning',
      summary: `MCP server ${SERVER}: {{ $value | humanizePercentage }} of requests fail`,
      description: `More than ${thresholds.errorRatio * 100}% of the MCP requests to ${SERVER} ended in error, timeout or rejection for 10 minutes.`,
      runbook: 'Split the failures by status and method on the dashboard (Error ratio, Request rate). '
        + '"timeout": the backend answers slowly or not at all; check the backend-up panel and the proxy logs for the request ids. '
        + '"rejected": the proxy refused work (body too large, session or in-flight limit, or a server not reading its stdin: see the Stdin backlog panel): look for 413/503 in the proxy logs and raise limits or add capacity. '
        + '"error": JSON-RPC errors from the server itself; read the MCP server container logs.',
    },
    {
      alert: 'McpServerLatencyP99High',
      expr: `${latencyQuantile(0.99, w5)} > ${thresholds.p99LatencySeconds}\nand ${on}\n${requestIncrease(w5)} >= ${MIN_EVENTS}`,
      for: '10m',
      severity: 'warning',
      summary: `MCP server ${SERVER}: p99 latency {{ $value | humanizeDuration }}`,
      description: `The 99th percentile of MCP request latency of ${SERVER} stayed above ${thresholds.p99LatencySeconds}s for 10 minutes.`,
      runbook: 'Open the traces of the slow requests in Grafana (Explore, Jaeger data source, service = the server name, tag '
        + 'k8s.namespace.name={{ $labels.namespace }}) and see whether time is spent '
        + 'in the proxy or waiting for the backend. Compare with the in-flight panel: a growing queue means the server is saturated (stdio servers '
        + 'handle requests one stream at a time); a flat queue with high latency points at a slow tool or its upstream.',
    },
    {
      alert: 'McpToolFailureRatioHigh',
      expr: `(\n${toolFailureRatio(w15)}\n) > ${thresholds.toolFailureRatio}\nand ${onTool}\n${toolCallIncrease(w15)} >= ${MIN_EVENTS}`,
      for: '15m',
      severity: 'warning',
      summary: `Tool {{ $labels.tool }} on ${SERVER}: {{ $value | humanizePercentage }} of calls fail`,
      description: `More than ${thresholds.toolFailureRatio * 100}% of the calls of tool {{ $labels.tool }} on ${SERVER} failed over 15 minutes.`,
      runbook: 'One tool failing while the others succeed is usually the tool\'s own upstream (an API, a URL, a credential) or bad arguments from a client. '
        + 'Find failing calls in Jaeger (tag tool name), read the JSON-RPC error in the trace or the MCP server logs, and check the Secrets the server uses.',
    },
    {
      alert: 'McpBackendDown',
      expr: `${backendUp({})} == 0`,
      for: '2m',
      severity: 'critical',
      summary: `MCP server ${SERVER}: backend {{ $labels.backend }} is down`,
      description: `The proxy of ${SERVER} has had no working backend (attached and MCP handshake done) for 2 minutes; every request fails fast.`,
      runbook: 'kubectl -n {{ $labels.namespace }} get pods of the MCP StatefulSet: CrashLoopBackOff or ImagePullBackOff explain it directly (kubectl logs --previous). '
        + 'If the pod runs, read the proxy logs for attach errors: a 403 means the proxy Role lacks pods/attach for that pod name; '
        + 'a closed stream right after attach means the server process exits on start. The proxy keeps retrying with backoff, no restart needed once fixed.',
    },
    {
      alert: 'McpBackendRestartStorm',
      expr: `${backendRestarts(['backend'], w15)} > ${thresholds.restartsPer15m}`,
      for: '0m',
      severity: 'warning',
      summary: `MCP server ${SERVER}: backend lost {{ $value | humanize }} times in 15 minutes`,
      description: `The backend of ${SERVER} was lost and recovered more than ${thresholds.restartsPer15m} times within 15 minutes.`,
      runbook: 'See the Backend restarts panel by reason. "crash"/"signal"/"container_restart": the server dies under some request; correlate with '
        + 'the failing tool calls and the container\'s OOMKilled status (raise its memory limit). "start_failed": it cannot start (image, args, a missing Secret). '
        + '"pod_replaced": something deletes or reschedules the pod (evictions, node drains). "stdin_stalled": the server stopped reading its stdin (see McpServerStdinStalled). "connection_lost": the attach connection itself drops; '
        + 'check API server and node network health and idle timeouts of load balancers in the path.',
    },
    {
      alert: 'McpServerStdinStalled',
      // Two ways a stuck server shows: over spawn (or a slow one over attach) the backlog stays up; over
      // attach a server that stops reading also stops answering the idle probe, and the proxy drops the
      // connection (reason stdin_stalled), which resets the backlog every probe period (40 s by default).
      expr: `${gaugeFloor(METRICS.stdinBacklog, { window: '10m' })} > ${thresholds.stdinBacklogBytes}\n`
        + `or on (${perServer()})\n${backendRestarts([], { window: '15m', matchers: ['reason="stdin_stalled"'] })} > 0`,
      for: '0m',
      severity: 'warning',
      summary: `MCP server ${SERVER} is not reading its stdin`,
      description: `The stdio server behind ${SERVER} left more than ${thresholds.stdinBacklogBytes} bytes unread on its stdin for 10 minutes, `
        + 'or stopped reading long enough that the proxy gave its attach connection up (restart reason stdin_stalled) in the last 15 minutes: '
        + 'it is hung or far slower than its clients. The proxy refuses new requests (503) while the backlog is at its limits.maxStdinBacklogBytes.',
      runbook: 'See the Stdin backlog and Backend restarts (reason stdin_stalled) panels, and the proxy logs: '
        + '"the server is not reading its stdin" (the backlog reached the limit) or a lost connection whose reason ends "or the server stopped reading its stdin". '
        + 'A server that stops reading is stuck: a tool blocking its only thread, a deadlock, or a process stopped by a debugger. '
        + 'Check the MCP server container\'s CPU (0 % = blocked, 100 % = a busy loop) and its logs, then delete its pod '
        + '(in the McpServer\'s namespace, which may differ from the proxy\'s {{ $labels.namespace }}): the proxy attaches to the new one and initializes it on its own; the requests in flight fail. '
        + 'If it reads but too slowly for its traffic, it needs more CPU or fewer clients.',
    },
    {
      alert: 'McpServerNoTraffic',
      expr: `${requestIncrease({ window: '1h', offset: '15m' })} > 0\nunless ${on}\n${requestRate([], w15)} > 0`,
      for: '15m',
      severity: 'info',
      summary: `MCP server ${SERVER} stopped receiving requests`,
      description: `${SERVER} served requests in the hour before, and none in the last 15 minutes (or its metrics vanished).`,
      runbook: 'Either clients went away (expected at night for interactive use: silence it) or they cannot reach the server: check the proxy '
        + 'Deployment and its readiness in namespace {{ $labels.namespace }}, the Service endpoints, the Ingress/HTTPRoute and its NetworkPolicies. '
        + 'If the proxy runs but its series are gone, the telemetry path is broken: the OTel collector pods and the Prometheus targets page tell which hop.',
    },
  ];
}
