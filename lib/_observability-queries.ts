/**
 * PromQL building blocks for the dashboard and the alerts. Every metric name comes from the proxy's
 * METRICS definitions, so a query can only name a series the proxy really exports; the histogram
 * suffixes are derived here, in one place, from the metric type.
 *
 * Queries aggregate by the `server` label only. It is the one label present in all four
 * architectures: through the collector, `job`/`instance` describe the OTLP resource (or the collector
 * pod), while a direct scrape sets them from service discovery, so grouping by them would differ.
 */
import { METRICS } from '../proxy/src/telemetry/metric-definitions.ts';
import type { MetricDefinition } from '../proxy/src/telemetry/metric-definitions.ts';

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
  /** Extra label matchers on every selector (the dashboard narrows to `server=~"$server"`). */
  readonly matchers?: readonly string[];
  /** Range of rate()/increase() windows. */
  readonly window: string;
}

const m = (opts: QueryOptions, ...more: string[]) => [...(opts.matchers ?? []), ...more];

/** Requests per second, grouped by `by`. */
export function requestRate(by: readonly string[], opts: QueryOptions, ...matchers: string[]): string {
  return `sum by (${by.join(', ')}) (rate(${selector(seriesName(METRICS.requests), m(opts, ...matchers))}[${opts.window}]))`;
}

/** Failed requests / all requests per server. */
export function errorRatio(opts: QueryOptions): string {
  return `${requestRate(['server'], opts, FAILED)}\n/\n${requestRate(['server'], opts)}`;
}

/** A latency quantile per server from the request-duration histogram. */
export function latencyQuantile(quantile: number, opts: QueryOptions): string {
  const bucket = selector(seriesName(METRICS.requestDuration, 'bucket'), m(opts));
  return `histogram_quantile(${quantile}, sum by (server, le) (rate(${bucket}[${opts.window}])))`;
}

/** tools/call per second, grouped by `by`. */
export function toolCallRate(by: readonly string[], opts: QueryOptions, ...matchers: string[]): string {
  return `sum by (${by.join(', ')}) (rate(${selector(seriesName(METRICS.toolCalls), m(opts, ...matchers))}[${opts.window}]))`;
}

/** Failed tool calls / all tool calls per server and tool. */
export function toolFailureRatio(opts: QueryOptions): string {
  return `${toolCallRate(['server', 'tool'], opts, FAILED)}\n/\n${toolCallRate(['server', 'tool'], opts)}`;
}

/** A gauge summed by `by` (sessions, connections, in-flight requests). */
export function gaugeSum(metric: MetricDefinition, by: readonly string[], opts: Pick<QueryOptions, 'matchers'>): string {
  return `sum by (${by.join(', ')}) (${selector(seriesName(metric), opts.matchers ?? [])})`;
}

/** Backend restarts within the window, by server, backend and reason. */
export function backendRestarts(by: readonly string[], opts: QueryOptions): string {
  return `sum by (${by.join(', ')}) (increase(${selector(seriesName(METRICS.backendRestarts), m(opts))}[${opts.window}]))`;
}

/** Backend state per server and backend: 1 connected, 0 lost. */
export function backendUp(opts: Pick<QueryOptions, 'matchers'>): string {
  return `min by (server, backend) (${selector(seriesName(METRICS.backendUp), opts.matchers ?? [])})`;
}
