/**
 * Builds the proxy's telemetry from its config: Prometheus metrics always (served unless
 * `metricsPort` is 0), OTLP metrics and traces when `telemetry.otlp` asks for them. The OpenTelemetry
 * SDK is imported only then: it is most of the proxy's memory when loaded, for nothing when unused.
 */
import type { ResolvedProxyConfig } from '../config-validate.ts';
import type { Logger } from '../log.ts';
import { createPrometheusMetrics, type PrometheusMetrics, type RequestRecorder } from './prometheus.ts';
import { MAX_TOOL_LABELS, type Telemetry } from './telemetry.ts';

export interface ProxyTelemetry extends Telemetry {
  readonly prometheus: PrometheusMetrics;
}

export async function createTelemetry(config: ResolvedProxyConfig, backendKind: string, logger: Logger): Promise<ProxyTelemetry> {
  const prometheus = createPrometheusMetrics(config.server, backendKind);
  const otlp = config.telemetry.otlp;
  const recorders: RequestRecorder[] = [prometheus];
  const otlpMetrics = otlp?.metrics ? (await import('./otlp-metrics.ts')).createOtlpMetrics(config, backendKind, logger) : undefined;
  if (otlpMetrics) recorders.push(otlpMetrics);
  const tracing = otlp?.traces ? (await import('./tracing.ts')).createTracing(config, logger) : undefined;
  const tools = new Set<string>();
  const [first, second] = recorders;

  return {
    prometheus,
    request: second
      ? (method, status, transport, seconds, tool) => {
          first.request(method, status, transport, seconds, tool);
          second.request(method, status, transport, seconds, tool);
        }
      : (method, status, transport, seconds, tool) => first.request(method, status, transport, seconds, tool),
    backendRestart: (reason) => recorders.forEach((recorder) => recorder.backendRestart(reason)),
    bindGauges: (sources) => recorders.forEach((recorder) => recorder.bindGauges(sources)),
    announceTools(names) {
      for (const name of names) {
        if (tools.size >= MAX_TOOL_LABELS) break;
        if (name !== 'other') tools.add(name);
      }
    },
    toolLabel: (name) => (typeof name === 'string' && tools.has(name) ? name : 'other'),
    tracing: tracing !== undefined,
    startSpan: tracing ? (start) => tracing.startSpan(start) : () => undefined,
    async shutdown() {
      await Promise.allSettled([otlpMetrics?.shutdown(), tracing?.shutdown()]);
    },
  };
}
