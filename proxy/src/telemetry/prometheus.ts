/**
 * Prometheus metrics with prom-client, registered from `METRICS` (the only place names live).
 *
 * Hot path: label children are resolved once per label combination and cached (prom-client would
 * otherwise hash the label object on every observation); gauges are computed at scrape time from
 * their owners (`bindGauges`), so nothing is counted twice.
 */
import client from 'prom-client';
import { METRICS, type MetricDefinition } from './metric-definitions.ts';
import type { GaugeSources, RequestStatus, RestartReason, TransportLabel } from './telemetry.ts';

const TRANSPORTS: readonly TransportLabel[] = ['streamable-http', 'sse'];

export interface RequestRecorder {
  request(method: string, status: RequestStatus, transport: TransportLabel, seconds: number, tool: string | undefined): void;
  backendRestart(reason: RestartReason): void;
  bindGauges(sources: GaugeSources): void;
}

export interface PrometheusMetrics extends RequestRecorder {
  readonly registry: client.Registry;
}

const help = (definition: MetricDefinition): { name: string; help: string; labelNames: string[] } => ({
  name: definition.name,
  help: definition.help,
  labelNames: [...definition.labels],
});

export function createPrometheusMetrics(server: string, backendKind: string): PrometheusMetrics {
  const registry = new client.Registry();
  let sources: GaugeSources | undefined;

  const requests = new client.Counter({ ...help(METRICS.requests), registers: [registry] });
  const duration = new client.Histogram({ ...help(METRICS.requestDuration), buckets: [...METRICS.requestDuration.buckets], registers: [registry] });
  const toolCalls = new client.Counter({ ...help(METRICS.toolCalls), registers: [registry] });
  const restarts = new client.Counter({ ...help(METRICS.backendRestarts), registers: [registry] });
  new client.Gauge({
    ...help(METRICS.activeConnections),
    registers: [registry],
    collect() {
      for (const transport of TRANSPORTS) this.set({ server, transport }, sources?.connections(transport) ?? 0);
    },
  });
  new client.Gauge({
    ...help(METRICS.sessions),
    registers: [registry],
    collect() {
      for (const transport of TRANSPORTS) this.set({ server, transport }, sources?.sessions(transport) ?? 0);
    },
  });
  new client.Gauge({
    ...help(METRICS.inFlight),
    registers: [registry],
    collect() {
      this.set({ server }, sources?.inFlight() ?? 0);
    },
  });
  new client.Gauge({
    ...help(METRICS.backendUp),
    registers: [registry],
    collect() {
      this.set({ server, backend: backendKind }, sources?.backendUp() ? 1 : 0);
    },
  });
  new client.Gauge({
    ...help(METRICS.stdinBacklog),
    registers: [registry],
    collect() {
      if (sources?.stdinBacklog) this.set({ server }, sources.stdinBacklog());
    },
  });

  type Children = { readonly count: client.Counter.Internal; readonly duration: client.Histogram.Internal<string> };
  const children = new Map<string, Children>();
  const toolChildren = new Map<string, client.Counter.Internal>();

  return {
    registry,
    request(method, status, transport, seconds, tool) {
      const key = `${method}\u0000${status}\u0000${transport}`;
      let child = children.get(key);
      if (!child) {
        const labels = { server, method, status, transport };
        child = { count: requests.labels(labels), duration: duration.labels(labels) };
        children.set(key, child);
      }
      child.count.inc();
      child.duration.observe(seconds);
      if (tool !== undefined) {
        const toolKey = `${tool}\u0000${status}`;
        let toolChild = toolChildren.get(toolKey);
        if (!toolChild) toolChildren.set(toolKey, (toolChild = toolCalls.labels({ server, tool, status })));
        toolChild.inc();
      }
    },
    backendRestart(reason) {
      restarts.inc({ server, backend: backendKind, reason });
    },
    bindGauges(bound) {
      sources = bound;
    },
  };
}
