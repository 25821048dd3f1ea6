/**
 * The `namespace` label every query groups by exists in every architecture, under that name, holding
 * the proxy pod's namespace: two teams' "fetch" servers stay two series.
 *
 * A proxy series is followed hop by hop through the configuration the stack synthesizes. This is a
 * model of the few collector and Prometheus rules the labels depend on, not a collector:
 * - pushed over OTLP: k8sattributes adds `k8s.namespace.name` to the resource of the sending pod; the
 *   metrics pipeline's `resource` processors run in pipeline order; resource_to_telemetry_conversion
 *   turns every resource attribute into a label (characters other than [a-zA-Z0-9_] become `_`); then
 *   either remote write stores the labels as they are, or the collector scrape job adds its target
 *   labels, and with honor_labels false a series label that clashes with one is kept as `exported_<name>`;
 * - scraped through a ServiceMonitor/PodMonitor: the Prometheus Operator labels the target `namespace`
 *   (from `__meta_kubernetes_namespace`), `pod`, `container`, `service`, `endpoint`, `job`, `instance`.
 */
import { describe, expect, test } from '@jest/globals';
import { Chart } from 'cdk8s';
import { McpServer } from '../../lib/mcp-server.ts';
import { NAMESPACE_LABEL } from '../../lib/_observability-queries.ts';
import { NAMESPACE_PROCESSOR } from '../../lib/_observability-values.ts';
import type { OpenTelemetryCollectorValues, KubePrometheusStackValues } from '../../lib/observability-stack.ts';
import { MonitorKind, ObservabilityArchitecture, type ObservabilityStack } from '../../lib/observability-stack.ts';
import { fakeProxy, synthStack, type Manifest } from './_support.ts';

type Labels = Record<string, string>;

interface ResourceAction {
  readonly key: string;
  readonly action: 'insert' | 'update' | 'upsert' | 'delete';
  readonly value?: string;
  readonly from_attribute?: string;
}

function values(stack: ObservabilityStack) {
  const get = <V>(name: string) => stack.helmReleases().find((r) => r.releaseName === name)!.values as V;
  return { collector: get<OpenTelemetryCollectorValues>('otel-collector'), kps: get<KubePrometheusStackValues>('kube-prometheus-stack') };
}

/** OTLP attribute name → Prometheus label name (prometheus/otlptranslator). */
const labelName = (attribute: string) => attribute.replace(/[^a-zA-Z0-9_]/g, '_');

/** The proxy's resource without anything from its environment. */
const BARE_RESOURCE: Labels = { 'service.name': 'fetch', 'mcp.server.name': 'fetch' };

/**
 * What leaves the collector's metrics pipeline for a proxy in `namespace` pushing `toolhive_mcp_*{server}`
 * with `proxyResource`; `attributed` false: k8sattributes could not tell which pod sent it (SNAT, a mesh
 * sidecar), so it adds nothing.
 */
function collectorOutput(collector: OpenTelemetryCollectorValues, namespace: string, proxyResource = BARE_RESOURCE, attributed = true): Labels {
  const pipeline = collector.config.service.pipelines.metrics!;
  const resource: Labels = { ...proxyResource };
  for (const name of pipeline.processors) {
    if (name === 'k8sattributes' && attributed) Object.assign(resource, { 'k8s.namespace.name': namespace, 'k8s.pod.name': 'mcp-fetch-proxy-5d9c7-abcde' });
    if (name !== 'resource' && !name.startsWith('resource/')) continue;
    const config = collector.config.processors[name] as { attributes: readonly ResourceAction[] };
    for (const a of config.attributes) {
      if (a.action === 'delete') {
        delete resource[a.key];
        continue;
      }
      const value = a.from_attribute !== undefined ? resource[a.from_attribute] : a.value;
      if (value === undefined) continue;
      const exists = a.key in resource;
      if (a.action === 'upsert' || (a.action === 'insert' && !exists) || (a.action === 'update' && exists)) resource[a.key] = value;
    }
  }
  const [exporter] = pipeline.exporters;
  const converts = (collector.config.exporters[exporter!] as { resource_to_telemetry_conversion?: { enabled: boolean } })
    .resource_to_telemetry_conversion?.enabled === true;
  const labels: Labels = { server: 'fetch' };
  if (converts) for (const [k, v] of Object.entries(resource)) labels[labelName(k)] ??= v;
  return labels;
}

/** The collector's output as stored after the collector scrape job (honor_labels false). */
function afterCollectorScrape(kps: KubePrometheusStackValues, exposed: Labels): Labels {
  const job = kps.prometheus.prometheusSpec.additionalScrapeConfigs.find((j) => j.job_name === 'otel-collector')!;
  expect(job.honor_labels).toBe(false);
  // labelmap could create any label; the model does not follow it, so the config must not use it.
  expect(job.relabel_configs.filter((r) => r.action === 'labelmap')).toEqual([]);
  const targetLabels = ['job', 'instance', ...job.relabel_configs.map((r) => r.target_label).filter((l): l is string => typeof l === 'string' && !l.startsWith('__'))];
  const stored: Labels = {};
  for (const [k, v] of Object.entries(exposed)) stored[targetLabels.includes(k) ? `exported_${k}` : k] = v;
  for (const l of targetLabels) stored[l] = `<${l} of the collector pod>`;
  return stored;
}

/** A monitor's target labels as the Prometheus Operator sets them. */
function afterMonitorScrape(monitor: Manifest): Labels {
  const endpoints: any[] = monitor.spec.endpoints ?? monitor.spec.podMetricsEndpoints;
  for (const e of endpoints) {
    // Nothing may move the operator's `namespace` aside: no relabelings (not modelled) and no honorLabels.
    expect({ relabelings: e.relabelings, metricRelabelings: e.metricRelabelings, honorLabels: e.honorLabels ?? false })
      .toEqual({ relabelings: undefined, metricRelabelings: undefined, honorLabels: false });
  }
  // namespaceSelector restricts discovery to these namespaces, so __meta_kubernetes_namespace is one of them.
  const [namespace, ...more] = monitor.spec.namespaceSelector.matchNames as string[];
  expect(more).toEqual([]);
  return { server: 'fetch', namespace: namespace!, pod: '<pod>', container: 'proxy', job: '<job>', instance: '<address>' };
}

describe.each([
  { arch: ObservabilityArchitecture.collectorScrape(), stored: 'collector scrape' },
  { arch: ObservabilityArchitecture.collectorRemoteWrite(), stored: 'remote write' },
  { arch: ObservabilityArchitecture.directScrape(), stored: 'monitor' },
  { arch: ObservabilityArchitecture.hybrid(), stored: 'monitor' },
] as const)('architecture $arch.name', ({ arch, stored }) => {
  test(`the proxy series Prometheus keeps (${stored}) carry \`${NAMESPACE_LABEL}\` = the proxy's namespace`, () => {
    const monitorKinds = stored === 'monitor' ? [MonitorKind.serviceMonitor(), MonitorKind.podMonitor()] : [MonitorKind.serviceMonitor()];
    for (const monitorKind of monitorKinds) {
      // GIVEN a proxy in team-b
      const { app, stack } = synthStack({ architecture: arch, monitorKind });
      const proxy = fakeProxy(app, 'fetch', 'team-b');
      // WHEN
      stack.bindProxy(proxy.target);
      // THEN
      const { collector, kps } = values(stack);
      let labels: Labels;
      if (stored === 'monitor') {
        const monitors = (proxy.chart.toJson() as Manifest[]).filter((o) => o.kind === monitorKind.kind);
        expect(monitors).toHaveLength(1);
        labels = afterMonitorScrape(monitors[0]!);
      } else if (stored === 'remote write') {
        labels = collectorOutput(collector, 'team-b');
      } else {
        labels = afterCollectorScrape(kps, collectorOutput(collector, 'team-b'));
      }
      expect(labels[NAMESPACE_LABEL]).toBe('team-b');
      expect(labels.server).toBe('fetch');
    }
  });

  if (arch.otlpMetrics) {
    test(`the OTLP metrics leaving the collector carry \`${NAMESPACE_LABEL}\` too, beside k8s_namespace_name`, () => {
      const { collector } = values(synthStack({ architecture: arch }).stack);
      expect(collectorOutput(collector, 'team-b')).toMatchObject({ [NAMESPACE_LABEL]: 'team-b', k8s_namespace_name: 'team-b', server: 'fetch' });
    });
  }
});

/**
 * The resource the real McpServer's proxy pod announces: its container's environment as the kubelet
 * resolves it (downward API fields, then `$(VAR)` references to earlier variables), read by the
 * proxy's `OTEL_RESOURCE_ATTRIBUTES` handling (key=value pairs, comma-separated).
 */
function proxyPodResource(stack: ObservabilityStack, chart: Chart, podName: string): Labels {
  new McpServer(chart, 'fetch', { image: 'docker.io/mcp/fetch:2025.4.7', observability: stack });
  const deployment = (chart.toJson() as Manifest[]).find((o) => o.kind === 'Deployment' && o.metadata.name === 'mcp-fetch-proxy')!;
  const fields: Labels = { 'metadata.name': podName, 'metadata.namespace': deployment.metadata.namespace!, 'metadata.uid': '0b6f3c1e-1111-4c2a-9d4e-123456789abc' };
  const env: Labels = {};
  for (const v of deployment.spec.template.spec.containers[0].env as Array<{ name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }>) {
    env[v.name] = v.valueFrom ? fields[v.valueFrom.fieldRef.fieldPath]! : v.value!.replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? `$(${name})`);
  }
  const resource: Labels = { ...BARE_RESOURCE };
  for (const pair of env['OTEL_RESOURCE_ATTRIBUTES']!.split(',')) {
    const [key, value] = pair.split('=');
    resource[key!] ??= value!;
  }
  return resource;
}

describe('a proxy the collector cannot attribute', () => {
  test.each([
    ObservabilityArchitecture.collectorScrape(), ObservabilityArchitecture.collectorRemoteWrite(), ObservabilityArchitecture.hybrid(),
  ])('still pushes series with its namespace and pod, from its own resource ($name)', (architecture) => {
    // GIVEN the real McpServer's proxy in team-b, bound to the stack
    const { app, stack } = synthStack({ architecture });
    const resource = proxyPodResource(stack, new Chart(app, 'team-b', { namespace: 'team-b' }), 'mcp-fetch-proxy-7f8b9-xyz12');
    expect(resource).toMatchObject({ 'k8s.namespace.name': 'team-b', 'k8s.pod.name': 'mcp-fetch-proxy-7f8b9-xyz12' });
    // WHEN k8sattributes adds nothing
    const labels = collectorOutput(values(stack).collector, 'team-b', resource, false);
    // THEN
    expect(labels).toMatchObject({ [NAMESPACE_LABEL]: 'team-b', k8s_pod_name: 'mcp-fetch-proxy-7f8b9-xyz12', server: 'fetch' });
  });

  test('without that resource, its series would have no namespace (the case the resource covers)', () => {
    const { collector } = values(synthStack().stack);
    expect(collectorOutput(collector, 'team-b', BARE_RESOURCE, false)[NAMESPACE_LABEL]).toBeUndefined();
  });
});

describe('the model itself', () => {
  test('without the namespace processor, pushed series would only have k8s_namespace_name', () => {
    const { collector } = values(synthStack().stack);
    const pipeline = collector.config.service.pipelines.metrics!;
    const without = { ...collector, config: { ...collector.config, service: { pipelines: { ...collector.config.service.pipelines, metrics: { ...pipeline, processors: pipeline.processors.filter((p) => !p.startsWith('resource')) } } } } };
    expect(collectorOutput(without, 'team-b')[NAMESPACE_LABEL]).toBeUndefined();
  });

  test('the processor placed before k8sattributes would find nothing to copy', () => {
    const { collector } = values(synthStack().stack);
    const pipeline = collector.config.service.pipelines.metrics!;
    const early = ['memory_limiter', NAMESPACE_PROCESSOR, 'k8sattributes', 'batch'];
    const reordered = { ...collector, config: { ...collector.config, service: { pipelines: { ...collector.config.service.pipelines, metrics: { ...pipeline, processors: early } } } } };
    expect(collectorOutput(reordered, 'team-b')[NAMESPACE_LABEL]).toBeUndefined();
  });

  test('a `namespace` target label on the collector scrape job would push the proxy\'s aside as exported_namespace', () => {
    const { kps } = values(synthStack().stack);
    const [job] = kps.prometheus.prometheusSpec.additionalScrapeConfigs;
    const withNamespace = {
      ...kps,
      prometheus: { prometheusSpec: { ...kps.prometheus.prometheusSpec, additionalScrapeConfigs: [{ ...job!, relabel_configs: [...job!.relabel_configs, { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' }] }] } },
    };
    const stored = afterCollectorScrape(withNamespace, { server: 'fetch', namespace: 'team-b' });
    expect([stored.namespace, stored.exported_namespace]).toEqual(['<namespace of the collector pod>', 'team-b']);
  });
});
