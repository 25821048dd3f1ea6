/**
 * OTLP/HTTP metrics with the OpenTelemetry SDK: the same measurements as the Prometheus registry,
 * as instruments named from `METRICS[*].otel`, so a collector's Prometheus exporter yields exactly
 * the names the dashboards use. Gauges are observable (read from their owners at export).
 */
import type { Attributes } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { ResolvedProxyConfig } from '../config-validate.ts';
import type { Logger } from '../log.ts';
import { proxyResource } from './resource.ts';
import { METRICS } from './metric-definitions.ts';
import type { RequestRecorder } from './prometheus.ts';
import type { GaugeSources, TransportLabel } from './telemetry.ts';

export interface OtlpMetrics extends RequestRecorder {
  shutdown(): Promise<void>;
}

const TRANSPORTS: readonly TransportLabel[] = ['streamable-http', 'sse'];

export function createOtlpMetrics(config: ResolvedProxyConfig, backendKind: string, logger: Logger, exporter?: PushMetricExporter): OtlpMetrics {
  const otlp = config.telemetry.otlp!;
  const server = config.server;
  const provider = new MeterProvider({
    resource: proxyResource(config),
    readers: [
      new PeriodicExportingMetricReader({
        exporter: exporter ?? new OTLPMetricExporter({ url: otlp.endpoint.replace(/\/+$/, '') + '/v1/metrics', headers: { ...otlp.headers } }),
        exportIntervalMillis: otlp.metricsExportIntervalMs,
      }),
    ],
  });
  const meter = provider.getMeter('toolhive-proxy');
  const counter = (definition: { otel: { name: string; unit: string }; help: string }) =>
    meter.createCounter(definition.otel.name, { unit: definition.otel.unit, description: definition.help });
  const requests = counter(METRICS.requests);
  const toolCalls = counter(METRICS.toolCalls);
  const restarts = counter(METRICS.backendRestarts);
  const duration = meter.createHistogram(METRICS.requestDuration.otel.name, {
    unit: METRICS.requestDuration.otel.unit,
    description: METRICS.requestDuration.help,
    advice: { explicitBucketBoundaries: [...METRICS.requestDuration.buckets] },
  });
  let sources: GaugeSources | undefined;
  const gauge = (definition: { otel: { name: string; unit: string }; help: string }, read: (observe: (value: number, attributes: Attributes) => void) => void) =>
    meter.createObservableGauge(definition.otel.name, { unit: definition.otel.unit, description: definition.help }).addCallback((result) => {
      if (sources) read((value, attributes) => result.observe(value, attributes));
    });
  gauge(METRICS.activeConnections, (observe) => TRANSPORTS.forEach((transport) => observe(sources!.connections(transport), { server, transport })));
  gauge(METRICS.sessions, (observe) => TRANSPORTS.forEach((transport) => observe(sources!.sessions(transport), { server, transport })));
  gauge(METRICS.inFlight, (observe) => observe(sources!.inFlight(), { server }));
  gauge(METRICS.backendUp, (observe) => observe(sources!.backendUp() ? 1 : 0, { server, backend: backendKind }));
  gauge(METRICS.stdinBacklog, (observe) => { if (sources!.stdinBacklog) observe(sources!.stdinBacklog(), { server }); });
  logger.info('OTLP metrics enabled', { endpoint: otlp.endpoint, intervalMs: otlp.metricsExportIntervalMs });

  const attributeCache = new Map<string, Attributes>();
  return {
    request(method, status, transport, seconds, tool) {
      const key = `${method}\u0000${status}\u0000${transport}`;
      let attributes = attributeCache.get(key);
      if (!attributes) attributeCache.set(key, (attributes = { server, method, status, transport }));
      requests.add(1, attributes);
      duration.record(seconds, attributes);
      if (tool !== undefined) toolCalls.add(1, { server, tool, status });
    },
    backendRestart(reason) {
      restarts.add(1, { server, backend: backendKind, reason });
    },
    bindGauges(bound) {
      sources = bound;
    },
    shutdown: () => provider.shutdown(),
  };
}
