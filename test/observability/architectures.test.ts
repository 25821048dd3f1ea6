import { describe, expect, test } from '@jest/globals';
import { CollectorMode, MonitorKind, ObservabilityArchitecture, ObservabilityStack } from '../../lib/observability-stack.ts';
import type { KubePrometheusStackValues, OpenTelemetryCollectorValues } from '../../lib/observability-stack.ts';
import { byKind, fakeProxy, one, proxySeriesNames, synthStack, type Manifest } from './_support.ts';

function values(stack: ObservabilityStack) {
  const releases = stack.helmReleases();
  const get = <V>(name: string) => releases.find((r) => r.releaseName === name)?.values as V | undefined;
  return {
    releases,
    collector: get<OpenTelemetryCollectorValues>('otel-collector')!,
    kps: get<KubePrometheusStackValues>('kube-prometheus-stack')!,
    jaeger: get<object>('jaeger'),
  };
}

const kinds = (objects: readonly Manifest[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

describe('ObservabilityStack defaults', () => {
  test('synthesizes the collector-scrape architecture with Jaeger (snapshot)', () => {
    // GIVEN / WHEN
    const { stack, objects } = synthStack();
    // THEN
    expect(stack.architecture.name).toBe('collector-scrape');
    expect({ objects: objects(), releases: stack.helmReleases() }).toMatchSnapshot();
  });

  test('emits exactly a Namespace, the dashboard, the Jaeger Service, two ingress policies, the rules and three Applications', () => {
    const { objects } = synthStack();
    expect(kinds(objects())).toEqual([
      'Application/jaeger', 'Application/kube-prometheus-stack', 'Application/otel-collector',
      'ConfigMap/toolhive-mcp-dashboard', 'Namespace/monitoring',
      'NetworkPolicy/jaeger-ingress', 'NetworkPolicy/otel-collector-ingress',
      'PrometheusRule/toolhive-mcp-alerts', 'Service/jaeger-all-in-one',
    ]);
  });

  test('the collector and Grafana reach Jaeger through a Service selecting the pods its policy admits traffic to', () => {
    const { stack, objects } = synthStack();
    const service = one(objects(), 'Service', 'jaeger-all-in-one');
    const policy = one(objects(), 'NetworkPolicy', 'jaeger-ingress');
    expect(service.spec.selector).toEqual(policy.spec.podSelector.matchLabels);
    const { collector, kps } = values(stack);
    const [host, port] = String((collector.config.exporters['otlp/jaeger'] as { endpoint: string }).endpoint).split(':');
    expect(host).toBe('jaeger-all-in-one.monitoring.svc');
    expect(service.spec.ports.map((p: any) => p.port)).toEqual(expect.arrayContaining([Number(port), 16686]));
    expect(kps.grafana.additionalDataSources[0]!.url).toBe('http://jaeger-all-in-one.monitoring.svc:16686');
  });

  test('pins kube-prometheus-stack 77.12.0 and current collector and Jaeger charts', () => {
    const { stack } = synthStack();
    expect(stack.helmReleases().map((r) => [r.releaseName, r.chart, r.version, r.namespace])).toEqual([
      ['kube-prometheus-stack', 'kube-prometheus-stack', '77.12.0', 'monitoring'],
      ['otel-collector', 'opentelemetry-collector', '0.177.0', 'monitoring'],
      ['jaeger', 'jaeger', '4.1.5', 'monitoring'],
    ]);
  });
});

describe.each([
  {
    arch: ObservabilityArchitecture.collectorScrape(), metricsExporter: 'prometheus', metricReceivers: ['otlp', 'kubeletstats'],
    scrapesCollector: true, remoteWriteReceiver: false, monitors: 0, otlpMetrics: true, dropsProxySeries: false, extraPolicies: [],
  },
  {
    arch: ObservabilityArchitecture.collectorRemoteWrite(), metricsExporter: 'prometheusremotewrite', metricReceivers: ['otlp', 'kubeletstats'],
    scrapesCollector: false, remoteWriteReceiver: true, monitors: 0, otlpMetrics: true, dropsProxySeries: false, extraPolicies: ['NetworkPolicy/prometheus-ingress'],
  },
  {
    arch: ObservabilityArchitecture.directScrape(), metricsExporter: 'prometheus', metricReceivers: ['kubeletstats'],
    scrapesCollector: true, remoteWriteReceiver: false, monitors: 1, otlpMetrics: false, dropsProxySeries: false, extraPolicies: [],
  },
  {
    arch: ObservabilityArchitecture.hybrid(), metricsExporter: 'prometheus', metricReceivers: ['otlp', 'kubeletstats'],
    scrapesCollector: true, remoteWriteReceiver: false, monitors: 1, otlpMetrics: true, dropsProxySeries: true, extraPolicies: [],
  },
])('architecture $arch.name', (c) => {
  test('emits exactly the objects of the architecture, plus one monitor per bound proxy when scraped directly', () => {
    const { app, stack, all } = synthStack({ architecture: c.arch });
    stack.bindProxy(fakeProxy(app, 'fetch', 'team-a').target);
    stack.bindProxy(fakeProxy(app, 'github', 'team-b').target);
    const monitors = c.monitors === 0 ? [] : ['ServiceMonitor/mcp-fetch-proxy', 'ServiceMonitor/mcp-github-proxy'];
    expect(kinds(all())).toEqual([
      'Application/jaeger', 'Application/kube-prometheus-stack', 'Application/otel-collector',
      'ConfigMap/toolhive-mcp-dashboard', 'Namespace/monitoring',
      'NetworkPolicy/jaeger-ingress', 'NetworkPolicy/otel-collector-ingress', ...c.extraPolicies,
      'PrometheusRule/toolhive-mcp-alerts', 'Service/jaeger-all-in-one', ...monitors,
    ].sort());
  });

  test('the collector has a traces pipeline to Jaeger and a metrics pipeline to the right exporter', () => {
    const { collector } = values(synthStack({ architecture: c.arch }).stack);
    const pipelines = collector.config.service.pipelines;
    expect(pipelines.traces).toEqual({ receivers: ['otlp'], processors: ['memory_limiter', 'k8sattributes', 'batch'], exporters: ['otlp/jaeger'] });
    expect(pipelines.metrics).toEqual({
      receivers: c.metricReceivers, processors: ['memory_limiter', 'k8sattributes', 'resource/namespace', 'batch'], exporters: [c.metricsExporter],
    });
    expect(pipelines.logs).toBeNull();
    // Exactly the exporters the pipelines use, and the chart's debug exporter removed.
    expect(Object.entries(collector.config.exporters).filter(([, v]) => v !== null).map(([k]) => k).sort())
      .toEqual(['otlp/jaeger', c.metricsExporter].sort());
    expect(collector.ports.prometheus !== undefined).toBe(c.metricsExporter === 'prometheus');
  });

  test('the collector image is a distribution that has every exporter the pipelines use', () => {
    const { collector } = values(synthStack({ architecture: c.arch }).stack);
    // The k8s distribution's exporters (open-telemetry/opentelemetry-collector-releases,
    // distributions/otelcol-k8s/manifest.yaml): OTLP-family only, no Prometheus exporters.
    const k8sDistribution = ['debug', 'nop', 'otlp', 'otlphttp', 'file', 'loadbalancing', 'otelarrow'];
    const used = Object.values(collector.config.service.pipelines).flatMap((p) => p?.exporters ?? []).map((e) => e.split('/')[0]!);
    const beyondK8sDistribution = [...new Set(used.filter((type) => !k8sDistribution.includes(type)))];
    expect(beyondK8sDistribution).toEqual([c.metricsExporter]);
    // So the image is contrib, whose binary the chart runs as /otelcol-contrib.
    expect([collector.image.repository, collector.command.name]).toEqual(['otel/opentelemetry-collector-contrib', 'otelcol-contrib']);
  });

  test('every component a collector pipeline names is configured (by us, or by the preset that adds it)', () => {
    const { collector } = values(synthStack({ architecture: c.arch }).stack);
    const defined = (section: Readonly<Record<string, unknown>>) => Object.entries(section).filter(([, v]) => v !== null).map(([k]) => k);
    const receivers = [...defined(collector.config.receivers), ...(collector.presets.kubeletMetrics.enabled ? ['kubeletstats'] : [])];
    const processors = [...defined(collector.config.processors), ...(collector.presets.kubernetesAttributes.enabled ? ['k8sattributes'] : [])];
    const exporters = defined(collector.config.exporters);
    for (const pipeline of Object.values(collector.config.service.pipelines)) {
      if (!pipeline) continue;
      expect(pipeline.receivers.filter((r) => !receivers.includes(r))).toEqual([]);
      expect(pipeline.processors.filter((p) => !processors.includes(p))).toEqual([]);
      expect(pipeline.exporters.filter((e) => !exporters.includes(e))).toEqual([]);
      // memory_limiter first (refuse before buffering), batch last (batch what survived).
      expect([pipeline.processors[0], pipeline.processors.at(-1)]).toEqual(['memory_limiter', 'batch']);
    }
  });

  test('Prometheus scrapes the collector only when it exports for scraping, and receives remote write only when it is pushed to', () => {
    const { kps } = values(synthStack({ architecture: c.arch }).stack);
    const spec = kps.prometheus.prometheusSpec;
    expect(spec.enableRemoteWriteReceiver).toBe(c.remoteWriteReceiver);
    expect(spec.additionalScrapeConfigs.map((s) => s.job_name)).toEqual(c.scrapesCollector ? ['otel-collector'] : []);
  });

  test(`the collector's copy of the proxy series is ${c.dropsProxySeries ? '' : 'not '}dropped (no double counting)`, () => {
    const { kps } = values(synthStack({ architecture: c.arch }).stack);
    const drops = kps.prometheus.prometheusSpec.additionalScrapeConfigs.flatMap((s) => s.metric_relabel_configs ?? []);
    if (!c.dropsProxySeries) {
      expect(drops).toEqual([]);
      return;
    }
    expect(drops).toHaveLength(1);
    const regex = new RegExp(`^${String(drops[0]!.regex)}$`);
    for (const name of proxySeriesNames()) expect(regex.test(name)).toBe(true);
    // kubeletstats series from the same collector are kept.
    expect(regex.test('k8s_pod_cpu_time_seconds_total')).toBe(false);
  });

  test('a bound proxy gets its telemetry config, NetworkPolicy peers and, when scraped directly, its monitor', () => {
    // GIVEN
    const { app, stack, objects } = synthStack({ architecture: c.arch });
    const proxy = fakeProxy(app);
    // WHEN
    const binding = stack.bindProxy(proxy.target);
    // THEN
    expect(binding.telemetry).toEqual({
      serviceName: 'fetch',
      otlp: { endpoint: 'http://otel-collector.monitoring.svc:4318', traces: true, metrics: c.otlpMetrics, samplingRatio: 1 },
    });
    expect(binding.telemetryEgress).toEqual([{
      namespace: 'monitoring',
      podLabels: { 'app.kubernetes.io/name': 'opentelemetry-collector', 'app.kubernetes.io/instance': 'otel-collector' },
      ports: [4318],
    }]);
    expect(binding.metricsScrapers).toEqual(c.monitors === 0 ? [] : [{
      namespace: 'monitoring',
      podLabels: { 'app.kubernetes.io/name': 'prometheus', 'operator.prometheus.io/name': 'kube-prometheus-stack-prometheus' },
      ports: [9464],
    }]);
    const monitors = byKind(proxy.chart.toJson() as Manifest[], 'ServiceMonitor');
    expect(monitors).toHaveLength(c.monitors);
    expect(stack.customResources.filter((o) => o.kind === 'ServiceMonitor')).toHaveLength(c.monitors);
    // The collector admits OTLP from that proxy's pods, in its namespace only.
    const policy = one(objects(), 'NetworkPolicy', 'otel-collector-ingress');
    expect(policy.spec.ingress[0]).toEqual({
      from: [{
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } },
        podSelector: { matchLabels: proxy.target.selectorLabels },
      }],
      ports: [{ protocol: 'TCP', port: 4317 }, { protocol: 'TCP', port: 4318 }],
    });
  });
});

describe('per-proxy monitors (architectures 3 and 4)', () => {
  test('a ServiceMonitor selects the proxy by its labels, in its namespace, on the named metrics port', () => {
    const { app, stack } = synthStack({ architecture: ObservabilityArchitecture.directScrape() });
    const proxy = fakeProxy(app, 'github', 'team-b');
    stack.bindProxy(proxy.target);
    const monitor = one(proxy.chart.toJson() as Manifest[], 'ServiceMonitor', 'mcp-github-proxy');
    expect(monitor.metadata.namespace).toBe('team-b');
    expect(monitor.spec).toEqual({
      selector: { matchLabels: proxy.target.selectorLabels },
      namespaceSelector: { matchNames: ['team-b'] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
    });
    expect(proxy.target.scope.node.tryFindChild(ObservabilityStack.MONITOR_ID)).toBeDefined();
  });

  test('MonitorKind.podMonitor() creates a PodMonitor instead', () => {
    const { app, stack } = synthStack({ architecture: ObservabilityArchitecture.hybrid(), monitorKind: MonitorKind.podMonitor(), scrapeInterval: '15s' });
    const proxy = fakeProxy(app);
    stack.bindProxy(proxy.target);
    const out = proxy.chart.toJson() as Manifest[];
    expect(byKind(out, 'ServiceMonitor')).toHaveLength(0);
    expect(one(out, 'PodMonitor', 'mcp-fetch-proxy').spec.podMetricsEndpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '15s' }]);
  });

  test('fails when the same proxy is bound twice', () => {
    const { app, stack } = synthStack();
    const proxy = fakeProxy(app);
    stack.bindProxy(proxy.target);
    expect(() => stack.bindProxy(proxy.target)).toThrow(/proxy "team-a\/fetch" is already bound/);
  });
});

describe('NetworkPolicies by architecture', () => {
  test('Prometheus gets an ingress policy only for remote write, admitting the collector, Grafana and itself', () => {
    expect(byKind(synthStack().objects(), 'NetworkPolicy').map((p) => p.metadata.name)).not.toContain('prometheus-ingress');
    const policy = one(synthStack({ architecture: ObservabilityArchitecture.collectorRemoteWrite() }).objects(), 'NetworkPolicy', 'prometheus-ingress');
    const sources = policy.spec.ingress.map((r: any) => r.from[0].podSelector.matchLabels['app.kubernetes.io/name']);
    expect(sources).toEqual(['opentelemetry-collector', 'grafana', 'prometheus']);
  });

  test('the collector admits Prometheus on 8889 when scraped, not with remote write', () => {
    const scraped = one(synthStack().objects(), 'NetworkPolicy', 'otel-collector-ingress').spec.ingress;
    expect(scraped).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus', 'operator.prometheus.io/name': 'kube-prometheus-stack-prometheus' } } }],
      ports: [{ protocol: 'TCP', port: 8889 }],
    }]);
    const pushed = one(synthStack({ architecture: ObservabilityArchitecture.collectorRemoteWrite() }).objects(), 'NetworkPolicy', 'otel-collector-ingress').spec.ingress;
    expect(pushed).toEqual([]);
  });

  test('allowOtlpFrom admits another sender (a whole namespace, or labelled pods) to the collector', () => {
    const { stack, objects } = synthStack();
    stack.allowOtlpFrom({ namespace: 'apps' });
    stack.allowOtlpFrom({ namespace: 'batch', podLabels: { app: 'etl' } });
    expect(one(objects(), 'NetworkPolicy', 'otel-collector-ingress').spec.ingress[0]).toEqual({
      from: [
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'apps' } } },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'batch' } }, podSelector: { matchLabels: { app: 'etl' } } },
      ],
      ports: [{ protocol: 'TCP', port: 4317 }, { protocol: 'TCP', port: 4318 }],
    });
    expect(() => stack.allowOtlpFrom({ namespace: 'Apps' })).toThrow(/allowOtlpFrom: namespace "Apps" is not a DNS-1123 label/);
  });

  test('Jaeger admits OTLP from the collector and queries from Grafana', () => {
    const policy = one(synthStack().objects(), 'NetworkPolicy', 'jaeger-ingress');
    expect(policy.spec.ingress.map((r: any) => [r.from[0].podSelector.matchLabels['app.kubernetes.io/name'], r.ports.map((p: any) => p.port)]))
      .toEqual([['opentelemetry-collector', [4317, 4318]], ['grafana', [16686]]]);
  });
});

describe('Jaeger configuration', () => {
  test('its pipeline, storage and query name only components it defines', () => {
    const jaeger = values(synthStack().stack).jaeger as { userconfig: any };
    const config = jaeger.userconfig;
    const traces = config.service.pipelines.traces;
    expect(traces.receivers.every((r: string) => r in config.receivers)).toBe(true);
    expect(traces.processors.every((p: string) => p in config.processors)).toBe(true);
    expect(traces.exporters.every((e: string) => e in config.exporters)).toBe(true);
    expect(config.service.extensions.every((e: string) => e in config.extensions)).toBe(true);
    const backends = Object.keys(config.extensions.jaeger_storage.backends);
    expect(backends).toContain(config.exporters.jaeger_storage_exporter.trace_storage);
    expect(backends).toContain(config.extensions.jaeger_query.storage.traces);
    expect(Object.keys(config.receivers)).toEqual(['otlp']);
  });
});

describe('collector mode', () => {
  test('daemonset: kubeletstats on, node-local Service, no host ports', () => {
    const { collector } = values(synthStack({ collectorMode: CollectorMode.daemonset() }).stack);
    expect(collector.mode).toBe('daemonset');
    expect(collector.presets).toEqual({ kubernetesAttributes: { enabled: true }, kubeletMetrics: { enabled: true } });
    expect(collector.service).toEqual({ enabled: true, internalTrafficPolicy: 'Local' });
    expect(Object.values(collector.ports).filter((p) => p.enabled).map((p) => p.hostPort ?? 0)).toEqual([0, 0, 0]);
  });

  test('deployment: kubeletstats off, replicas set; with direct scrape and no kubeletstats there is no metrics pipeline at all', () => {
    const { collector, kps } = values(synthStack({ collectorMode: CollectorMode.deployment(), architecture: ObservabilityArchitecture.directScrape() }).stack);
    expect(collector.mode).toBe('deployment');
    expect(collector.replicaCount).toBe(1);
    expect(collector.presets.kubeletMetrics.enabled).toBe(false);
    expect(collector.config.service.pipelines.metrics).toBeNull();
    expect(kps.prometheus.prometheusSpec.additionalScrapeConfigs).toEqual([]);
  });
});
