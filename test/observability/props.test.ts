import { describe, expect, test } from '@jest/globals';
import { CollectorMode, ObservabilityArchitecture, ObservabilityStack } from '../../lib/observability-stack.ts';
import type { JaegerValues, KubePrometheusStackValues, OpenTelemetryCollectorValues } from '../../lib/observability-stack.ts';
import { METRICS } from '../../proxy/src/telemetry/metric-definitions.ts';
import { byKind, fakeProxy, one, synthStack } from './_support.ts';

const release = <V>(stack: ObservabilityStack, name: string) => stack.helmReleases().find((r) => r.releaseName === name)?.values as V | undefined;

describe('ObservabilityStack props', () => {
  test('namespace moves every namespaced object, the OTLP endpoint and the data source', () => {
    const { stack, objects } = synthStack({ namespace: 'observability' });
    const out = objects();
    expect(one(out, 'Namespace', 'observability').metadata.namespace).toBeUndefined();
    for (const o of out.filter((x) => !['Namespace', 'Application'].includes(x.kind))) expect(o.metadata.namespace).toBe('observability');
    for (const app of byKind(out, 'Application')) expect(app.spec.destination.namespace).toBe('observability');
    expect(stack.otlpEndpoint).toBe('http://otel-collector.observability.svc:4318');
    const kps = release<KubePrometheusStackValues>(stack, 'kube-prometheus-stack')!;
    expect(kps.grafana.additionalDataSources[0]!.url).toBe('http://jaeger-all-in-one.observability.svc:16686');
    expect(release<OpenTelemetryCollectorValues>(stack, 'otel-collector')!.config.exporters['otlp/jaeger']).toEqual({ endpoint: 'jaeger-all-in-one.observability.svc:4317', tls: { insecure: true } });
  });

  test('createNamespace: false leaves the Namespace to Helm or Argo CD', () => {
    expect(byKind(synthStack({ createNamespace: false }).objects(), 'Namespace')).toEqual([]);
  });

  test('retention, size and scrape interval reach the Prometheus spec', () => {
    const { stack } = synthStack({ retention: '30d', retentionSize: '20GiB', scrapeInterval: '15s' });
    const spec = release<KubePrometheusStackValues>(stack, 'kube-prometheus-stack')!.prometheus.prometheusSpec;
    expect([spec.retention, spec.retentionSize, spec.scrapeInterval]).toEqual(['30d', '20GiB', '15s']);
    expect(spec.additionalScrapeConfigs[0]!.scrape_interval).toBe('15s');
  });

  test('the Prometheus of the chart selects our monitors and rules whatever their labels', () => {
    const spec = release<KubePrometheusStackValues>(synthStack().stack, 'kube-prometheus-stack')!.prometheus.prometheusSpec;
    expect([spec.serviceMonitorSelectorNilUsesHelmValues, spec.podMonitorSelectorNilUsesHelmValues, spec.ruleSelectorNilUsesHelmValues]).toEqual([false, false, false]);
  });

  test('Grafana reads its admin credentials from the named Secret and loads labelled dashboards', () => {
    const { stack, objects } = synthStack({ grafanaAdminSecret: { secretName: 'ops-grafana', userKey: 'user', passwordKey: 'pass' } });
    const grafana = release<KubePrometheusStackValues>(stack, 'kube-prometheus-stack')!.grafana;
    expect(grafana.admin).toEqual({ existingSecret: 'ops-grafana', userKey: 'user', passwordKey: 'pass' });
    const label = grafana.sidecar.dashboards;
    expect(one(objects(), 'ConfigMap', 'toolhive-mcp-dashboard').metadata.labels![label.label]).toBe(label.labelValue);
    expect([label.label, label.labelValue]).toEqual(['grafana_dashboard', '1']);
  });

  test('jaeger: false drops the release, the data source, the policy, the traces pipeline, and traces in the proxies', () => {
    const { app, stack, objects } = synthStack({ jaeger: false });
    expect(stack.helmReleases().map((r) => r.releaseName)).toEqual(['kube-prometheus-stack', 'otel-collector']);
    expect(byKind(objects(), 'Application').map((a) => a.metadata.name)).toEqual(['kube-prometheus-stack', 'otel-collector']);
    expect(byKind(objects(), 'NetworkPolicy').map((p) => p.metadata.name)).toEqual(['otel-collector-ingress']);
    expect(byKind(objects(), 'Service')).toEqual([]);
    expect(release<KubePrometheusStackValues>(stack, 'kube-prometheus-stack')!.grafana.additionalDataSources).toEqual([]);
    const collector = release<OpenTelemetryCollectorValues>(stack, 'otel-collector')!;
    expect(collector.config.service.pipelines.traces).toBeNull();
    expect(collector.config.exporters['otlp/jaeger']).toBeUndefined();
    expect(stack.bindProxy(fakeProxy(app).target).telemetry.otlp).toMatchObject({ traces: false, metrics: true });
  });

  test('direct scrape without traces sends no OTLP at all: no endpoint, no egress', () => {
    const { app, stack } = synthStack({ architecture: ObservabilityArchitecture.directScrape(), traces: false });
    const binding = stack.bindProxy(fakeProxy(app).target);
    expect(binding.telemetry).toEqual({ serviceName: 'fetch' });
    expect(binding.telemetryEgress).toEqual([]);
  });

  test('jaegerMaxTraces bounds the in-memory store', () => {
    const jaeger = release<JaegerValues>(synthStack({ jaegerMaxTraces: 1000 }).stack, 'jaeger')!;
    expect(jaeger.userconfig).toMatchObject({ extensions: { jaeger_storage: { backends: { memstore: { memory: { max_traces: 1000 } } } } } });
    // Both layouts of the chart get the same memory limit and the in-memory store, never Cassandra.
    expect(jaeger.jaeger.resources.limits.memory).toBe('1Gi');
    expect(jaeger.allInOne.resources).toEqual(jaeger.jaeger.resources);
    expect(jaeger.provisionDataStore).toEqual({ cassandra: false, elasticsearch: false, kafka: false });
  });

  test('samplingRatio reaches the proxies', () => {
    const { app, stack } = synthStack({ samplingRatio: 0.25 });
    expect(stack.bindProxy(fakeProxy(app).target).telemetry.otlp?.samplingRatio).toBe(0.25);
  });

  test('chart versions can be overridden, one at a time', () => {
    const { stack, objects } = synthStack({ chartVersions: { openTelemetryCollector: '0.176.0' } });
    expect(stack.helmReleases().map((r) => r.version)).toEqual(['77.12.0', '0.176.0', '4.1.5']);
    expect(one(objects(), 'Application', 'otel-collector').spec.source.targetRevision).toBe('0.176.0');
  });

  test('Argo CD options: namespace, project, automated sync; kube-prometheus-stack syncs first and server-side', () => {
    const out = synthStack({ argoCd: { namespace: 'gitops', project: 'platform', automated: true } }).objects();
    for (const app of byKind(out, 'Application')) {
      expect(app.metadata.namespace).toBe('gitops');
      expect(app.spec.project).toBe('platform');
      expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
      expect(app.spec.syncPolicy.retry).toEqual({ limit: 10, backoff: { duration: '10s', factor: 2, maxDuration: '5m' } });
      expect(app.spec.syncPolicy.syncOptions).toContain('CreateNamespace=true');
    }
    const kps = one(out, 'Application', 'kube-prometheus-stack');
    expect(kps.spec.syncPolicy.syncOptions).toContain('ServerSideApply=true');
    expect(kps.metadata.annotations).toEqual({ 'argocd.argoproj.io/sync-wave': '-1' });
    expect(one(out, 'Application', 'jaeger').spec.syncPolicy.syncOptions).not.toContain('ServerSideApply=true');
  });

  test('Applications carry the values verbatim, including the nulls that delete chart defaults', () => {
    const { stack, objects } = synthStack();
    for (const r of stack.helmReleases()) {
      const app = one(objects(), 'Application', r.releaseName);
      expect(app.spec.source).toEqual({ repoURL: r.repoURL, chart: r.chart, targetRevision: r.version, helm: { releaseName: r.releaseName, valuesObject: JSON.parse(JSON.stringify(r.values)) } });
    }
    expect(one(objects(), 'Application', 'otel-collector').spec.source.helm.valuesObject.config.receivers.zipkin).toBeNull();
  });

  test('values files are YAML that round-trips to the release values, headed by the install command', async () => {
    const { parse } = await import('yaml');
    const { stack } = synthStack();
    const files = stack.helmValuesFiles();
    expect(files.map((f) => f.path)).toEqual(['helm-values/kube-prometheus-stack.yaml', 'helm-values/otel-collector.yaml', 'helm-values/jaeger.yaml']);
    stack.helmReleases().forEach((r, i) => {
      expect(parse(files[i]!.content)).toEqual(JSON.parse(JSON.stringify(r.values)));
      // Written out in full: no YAML anchors or aliases (Jaeger's two chart layouts share one object).
      expect(parse(files[i]!.content, { maxAliasCount: 0 })).toBeDefined();
      expect(files[i]!.content).not.toMatch(/[&*]a\d+\b/);
      expect(files[i]!.content.split('\n')[0]).toBe(`# helm upgrade -i ${r.releaseName} ${r.chart} --repo ${r.repoURL} --version ${r.version} -n monitoring --create-namespace -f helm-values/${r.releaseName}.yaml`);
    });
  });
});

describe('ObservabilityStack prop errors', () => {
  test.each([
    [{ namespace: '' }, /namespace "" is not a DNS-1123 label/],
    [{ namespace: 'Monitoring' }, /namespace "Monitoring" is not a DNS-1123 label/],
    [{ retention: '15 days' }, /retention "15 days" is not a Prometheus duration/],
    [{ retention: '0d' }, /retention "0d" is not a Prometheus duration/],
    [{ retention: '' }, /retention "" is not a Prometheus duration/],
    [{ retentionSize: '10G' }, /retentionSize "10G" is not a size/],
    [{ scrapeInterval: 'often' }, /scrapeInterval "often" is not a Prometheus duration/],
    [{ jaeger: false, traces: true }, /traces are requested but jaeger is off/],
    [{ samplingRatio: 1.5 }, /samplingRatio 1.5 is not between 0 and 1/],
    [{ jaegerMaxTraces: 0 }, /jaegerMaxTraces 0 must be a positive integer/],
    [{ grafanaAdminSecret: { secretName: '' } }, /grafanaAdminSecret.secretName is empty/],
    [{ collectorMode: CollectorMode.deployment({ replicas: 2 }) }, /2 collector replicas with architecture collector-scrape/],
    [{ collectorMode: CollectorMode.deployment({ replicas: 0 }) }, /collector replicas 0 must be a positive integer/],
    [{ alertThresholds: { errorRatio: 5 } }, /errorRatio 5 must be a ratio between 0 and 1/],
    [{ alertThresholds: { p99LatencySeconds: 3 } }, /p99LatencySeconds 3 is not a bucket bound/],
    [{ alertThresholds: { restartsPer15m: 1.5 } }, /restartsPer15m 1.5 must be a positive integer/],
    [{ alertThresholds: { stdinBacklogBytes: 0 } }, /stdinBacklogBytes 0 must be a positive whole number of bytes/],
    [{ scrapeInterval: '' }, /scrapeInterval "" is not a Prometheus duration/],
    [{ chartVersions: { jaeger: '^4.1.0' } }, /chartVersions.jaeger "\^4.1.0" is not an exact chart version/],
    [{ chartVersions: { kubePrometheusStack: '' } }, /chartVersions.kubePrometheusStack "" is not an exact chart version/],
    [{ argoCd: { namespace: 'Argo_CD' } }, /argoCd.namespace "Argo_CD" is not a DNS-1123 label/],
  ])('fails on %j', (props, message) => {
    expect(() => synthStack(props)).toThrow(message);
  });

  test('more collector replicas are fine with remote write (nothing scrapes them)', () => {
    expect(() => synthStack({ architecture: ObservabilityArchitecture.collectorRemoteWrite(), collectorMode: CollectorMode.deployment({ replicas: 3 }) })).not.toThrow();
  });

  test('any bucket bound of the latency histogram is a valid p99 threshold', () => {
    for (const bound of METRICS.requestDuration.buckets) {
      expect(() => synthStack({ alertThresholds: { p99LatencySeconds: bound } })).not.toThrow();
    }
  });
});
