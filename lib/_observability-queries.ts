/**
 * PromQL building blocks for the dashboard and the alerts. Every metric name comes from the proxy's
 * METRICS definitions, so a query can only name a series the proxy really exports; the histogram
 * suffixes are derived here, in one place, from the metric type.
 *
 * Queries aggregate by the server's identity, (`namespace`, `server`), and never by anything else that
 * describes where a series came from. `server` is the bare name the proxy puts on every metric, so two
 * teams running "fetch" in different namespaces share it; `namespace` (the proxy pod's Kubernetes
 * namespace) keeps them apart, and the stack makes sure every architecture sets it under that name (see
 * NAMESPACE_LABEL). `job`/`instance` are no use: through the collector they describe the OTLP resource
 * (or the collector pod), while a direct scrape sets them from service discovery.
 */
import { METRICS } from '../proxy/src/telemetry/metric-definitions.ts';
import type { MetricDefinition } from '../proxy/src/telemetry/metric-definitions.ts';

/**
 * The label carrying the proxy pod's Kubernetes namespace, the same in every architecture: the
 * Prometheus Operator's own target label for ServiceMonitors and PodMonitors, which the collector
 * copies from `k8s.namespace.name` for metrics pushed over OTLP.
 */
export const NAMESPACE_LABEL = 'namespace';

/** The labels that identify one MCP server; every query groups and joins by them. */
export const SERVER_IDENTITY: readonly string[] = [NAMESPACE_LABEL, 'server'];

/** `by (namespace, server, ...extra)` and `on (namespace, server)`, in that order. */
export function perServer(...extra: string[]): string {
  return [...SERVER_IDENTITY, ...extra].join(', ');
}

type HistogramSeries = 'bucket' | 'sum' | 'count';

/** The Prometheus series name of a metric (a histogram needs the series it reads: bucket, sum, count). */
export function seriesName(metric: MetricDefinition, histogramSeries?: HistogramSeries): string {
  if (metric.type === 'histogram') {
    if (!histogramSeries) throw new Error(`metric "${metric.name}" is a histogram: say which series (bucket, sum or count)`);
    return `${metric.name}_${histogramSeries}`;
  }
  if (histogramSeries) throw new Error(`metric "${metric.name}" is a ${metric.type}, it has no _${histogramSeries} series`);
  return metric.name;
}

/** Every series name the proxy exports, histograms expanded. */
export function exportedSeriesNames(): string[] {
  return Object.values(METRICS).flatMap((m: MetricDefinition) =>
    m.type === 'histogram' ? (['bucket', 'sum', 'count'] as const).map((s) => seriesName(m, s)) : [seriesName(m)]);
}

/** Label matchers, e.g. `{status!="success"}`; an empty matcher list renders as nothing. */
export function selector(name: string, matchers: readonly string[] = []): string {
  return matchers.length === 0 ? name : `${name}{${matchers.join(', ')}}`;
}

/** Statuses that count as failures: the proxy's own outcomes other than `success`. */
export const FAILED = 'status!="success"';

export interface QueryOptions {
  /** Extra label matchers on every selector (the dashboard narrows to its `$namespace` and `$server`). */
  readonly matchers?: readonly string[];
  /** Range of rate()/increase() windows. */
  readonly window: string;
}

const m = (opts: QueryOptions, ...more: string[]) => [...(opts.matchers ?? []), ...more];

/** Requests per second per server, split further by the `extra` labels. */
export function requestRate(extra: readonly string[], opts: QueryOptions, ...matchers: string[]): string {
  return `sum by (${perServer(...extra)}) (rate(${selector(seriesName(METRICS.requests), m(opts, ...matchers))}[${opts.window}]))`;
}

/** Requests per server within the window (`offset` shifts it into the past). */
export function requestIncrease(opts: QueryOptions & { readonly offset?: string }): string {
  const range = `[${opts.window}]${opts.offset ? ` offset ${opts.offset}` : ''}`;
  return `sum by (${perServer()}) (increase(${selector(seriesName(METRICS.requests), m(opts))}${range}))`;
}

/** Failed requests / all requests per server. */
export function errorRatio(opts: QueryOptions): string {
  return `${requestRate([], opts, FAILED)}\n/\n${requestRate([], opts)}`;
}

/** A latency quantile per server from the request-duration histogram. */
export function latencyQuantile(quantile: number, opts: QueryOptions): string {
  const bucket = selector(seriesName(METRICS.requestDuration, 'bucket'), m(opts));
  return `histogram_quantile(${quantile}, sum by (${perServer('le')}) (rate(${bucket}[${opts.window}])))`;
}

/** tools/call per second per server, split further by the `extra` labels. */
export function toolCallRate(extra: readonly string[], opts: QueryOptions, ...matchers: string[]): string {
  return `sum by (${perServer(...extra)}) (rate(${selector(seriesName(METRICS.toolCalls), m(opts, ...matchers))}[${opts.window}]))`;
}

/** tools/call per server and tool within the window. */
export function toolCallIncrease(opts: QueryOptions): string {
  return `sum by (${perServer('tool')}) (increase(${selector(seriesName(METRICS.toolCalls), m(opts))}[${opts.window}]))`;
}

/** Failed tool calls / all tool calls per server and tool. */
export function toolFailureRatio(opts: QueryOptions): string {
  return `${toolCallRate(['tool'], opts, FAILED)}\n/\n${toolCallRate(['tool'], opts)}`;
}

/** A gauge summed per server, split further by the `extra` labels (sessions, connections, in-flight requests). */
export function gaugeSum(metric: MetricDefinition, extra: readonly string[], opts: Pick<QueryOptions, 'matchers'>): string {
  return `sum by (${perServer(...extra)}) (${selector(seriesName(metric), opts.matchers ?? [])})`;
}

/** The largest value of a gauge among a server's replicas (for per-replica limits), split further by the `extra` labels. */
export function gaugeMax(metric: MetricDefinition, extra: readonly string[], opts: Pick<QueryOptions, 'matchers'>): string {
  return `max by (${perServer(...extra)}) (${selector(seriesName(metric), opts.matchers ?? [])})`;
}

/**
 * The lowest value a gauge had within the window, on the server's replica where that is highest:
 * above X means one replica stayed above X for the whole window.
 */
export function gaugeFloor(metric: MetricDefinition, opts: QueryOptions): string {
  return `max by (${perServer()}) (min_over_time(${selector(seriesName(metric), m(opts))}[${opts.window}]))`;
}

/** Backend restarts within the window per server, split further by the `extra` labels (backend, reason). */
export function backendRestarts(extra: readonly string[], opts: QueryOptions): string {
  return `sum by (${perServer(...extra)}) (increase(${selector(seriesName(METRICS.backendRestarts), m(opts))}[${opts.window}]))`;
}

/** Backend state per server and backend: 1 connected, 0 lost. */
export function backendUp(opts: Pick<QueryOptions, 'matchers'>): string {
  return `min by (${perServer('backend')}) (${selector(seriesName(METRICS.backendUp), opts.matchers ?? [])})`;
}
