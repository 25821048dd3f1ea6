/**
 * What the rest of the proxy tells telemetry. One interface, so the multiplexer and the fronts do not
 * know whether Prometheus, OTLP or nothing is behind it, and tests can observe it.
 *
 * Label values are bounded here: methods outside the MCP method list and tools the server did not
 * announce are recorded as "other", so a client cannot create time series at will.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { JsonRpcId } from '../jsonrpc.ts';

export type RequestStatus = 'success' | 'error' | 'timeout' | 'rejected';
export type TransportLabel = 'streamable-http' | 'sse';

/** Restart reasons are a closed set (label values). */
export const RESTART_REASONS = ['exit', 'crash', 'signal', 'start_failed', 'container_restart', 'pod_replaced', 'stdin_stalled', 'connection_lost', 'other'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

export const MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize', 'ping', 'tools/list', 'tools/call', 'resources/list', 'resources/templates/list', 'resources/read',
  'resources/subscribe', 'resources/unsubscribe', 'prompts/list', 'prompts/get', 'logging/setLevel',
  'completion/complete', 'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel',
]);

export const methodLabel = (method: unknown): string =>
  typeof method === 'string' && MCP_METHODS.has(method) ? method : 'other';

export interface SpanStart {
  readonly method: string;
  /** Tool or prompt name: the span is named `<method> <target>`. */
  readonly target?: string;
  readonly sessionId?: string;
  readonly requestId?: JsonRpcId;
  readonly transport: TransportLabel;
  /** W3C trace context sources: HTTP headers first, then `params._meta` (traceparent, tracestate). */
  readonly headers?: IncomingHttpHeaders;
  readonly meta?: Record<string, unknown>;
}

export interface SpanHandle {
  /** Writes the span's context into a forwarded request's `params._meta`, so the server can continue the trace. */
  inject(meta: Record<string, unknown>): void;
  end(status: RequestStatus, errorCode?: number): void;
}

export interface GaugeSources {
  connections(transport: TransportLabel): number;
  sessions(transport: TransportLabel): number;
  inFlight(): number;
  backendUp(): boolean;
  /** Stream backends only (spawn, attach): what waits for the server's stdin. */
  stdinBacklog?(): number;
}

export interface Telemetry {
  /** One client request finished (answered, failed, timed out or rejected). */
  request(method: string, status: RequestStatus, transport: TransportLabel, seconds: number, tool: string | undefined): void;
  /**
   * The gauges (connections, sessions, in-flight, backend up) are read from their owners when
   * scraped or exported, not pushed on every change: the hot path does no gauge bookkeeping.
   */
  bindGauges(sources: GaugeSources): void;
  backendRestart(reason: RestartReason): void;
  /** The tools the server announced (tools/list): the only values of the `tool` label besides "other". */
  announceTools(names: readonly string[]): void;
  /** The `tool` label for a tools/call of `name`. */
  toolLabel(name: unknown): string;
  /** Whether spans are recorded at all: callers skip building a `SpanStart` when not. */
  readonly tracing: boolean;
  /** Undefined when tracing is off (the common, cheap case). */
  startSpan(start: SpanStart): SpanHandle | undefined;
  shutdown(): Promise<void>;
}

/** Tool names kept for labels at most: a server announcing more gets "other" for the rest. */
export const MAX_TOOL_LABELS = 500;

/** Telemetry that records nothing (tests of behaviour, `metricsPort: 0` without OTLP). */
export function createNullTelemetry(): Telemetry {
  return {
    request: () => {},
    bindGauges: () => {},
    backendRestart: () => {},
    announceTools: () => {},
    toolLabel: () => 'other',
    tracing: false,
    startSpan: () => undefined,
    shutdown: async () => {},
  };
}

/** The tool names in a `tools/list` result. */
export function toolNamesOf(result: unknown): string[] {
  const tools = (result as { tools?: unknown } | undefined)?.tools;
  if (!Array.isArray(tools)) return [];
  return tools.map((tool) => (tool as { name?: unknown } | null)?.name).filter((name): name is string => typeof name === 'string');
}

/** Maps a backend's human-readable `down` reason to a bounded label value. */
export function restartReasonLabel(reason: string): RestartReason {
  const text = reason.toLowerCase();
  // The kubelet restarts a container that ended, whichever of these the pod showed first.
  if (text.includes('container') && (text.includes('restart') || text.includes('terminated'))) return 'container_restart';
  if (text.includes('pod') && (text.includes('replaced') || text.includes('deleted'))) return 'pod_replaced';
  if (text.includes('failed to start')) return 'start_failed';
  if (text.includes('signal')) return 'signal';
  if (text.includes('exited with code 0')) return 'exit';
  if (text.includes('exited')) return 'crash';
  // The attach idle probe gave up while stdin was backed up: a stuck server, more likely than the network.
  if (text.includes('stopped reading its stdin')) return 'stdin_stalled';
  if (text.includes('connection') || text.includes('websocket') || text.includes('closed') || text.includes('attach')) return 'connection_lost';
  return 'other';
}
