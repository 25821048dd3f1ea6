/**
 * Helm values for the three upstream charts, typed for the subset we set. Everything not set keeps the
 * chart default; where a chart default would work against us (a known Grafana password, a Jaeger or
 * Zipkin receiver we never use, host ports) it is switched off explicitly, with the reason beside it.
 *
 * Value keys were checked against the charts' values files and templates (see docs/observability.md,
 * "Chart versions"); Helm ignores unknown keys, so a typo would fail silently: these types are the guard.
 */
import { exportedSeriesNames, NAMESPACE_LABEL } from './_observability-queries.ts';
import { PORTS, POD_LABELS, SERVICES, serviceHost } from './_observability-names.ts';

/** What the builders need, already validated and defaulted by the construct. */
export interface StackSettings {
  readonly namespace: string;
  readonly otlpMetrics: boolean;
  readonly directScrape: boolean;
  readonly remoteWrite: boolean;
  readonly traces: boolean;
  readonly jaeger: boolean;
  readonly jaegerMaxTraces: number;
  readonly collectorMode: 'daemonset' | 'deployment';
  readonly collectorReplicas: number;
  readonly retention: string;
  readonly retentionSize?: string;
  readonly scrapeInterval: string;
  readonly grafanaAdmin: { readonly secretName: string; readonly userKey: string; readonly passwordKey: string };
}

/** The collector exposes metrics for Prometheus to scrape (every architecture but remote write). */
export function collectorExportsPrometheus(s: StackSettings): boolean {
  return !s.remoteWrite && collectorHasMetricsPipeline(s);
}

/** kubeletstats runs in daemonset mode only: the preset reads the kubelet of the collector's own node. */
export function kubeletStatsEnabled(s: StackSettings): boolean {
  return s.collectorMode === 'daemonset';
}

export function collectorHasMetricsPipeline(s: StackSettings): boolean {
  return s.otlpMetrics || kubeletStatsEnabled(s);
}

// ---- security contexts ----------------------------------------------------------------------------

/** A pod security context that meets Pod Security "restricted"; `uid` is the image's own non-root user. */
export interface PodSecurityContextValues {
  readonly runAsNonRoot: true;
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly fsGroup: number;
  readonly seccompProfile: { readonly type: 'RuntimeDefault' };
}

export interface ContainerSecurityContextValues {
  readonly allowPrivilegeEscalation: false;
  readonly capabilities: { readonly drop: readonly ['ALL'] };
  readonly readOnlyRootFilesystem: true;
  readonly runAsNonRoot: true;
}

/**
 * The charts of the collector and Jaeger set no container security context by default (the collector
 * none at all): their pods would run with privilege escalation allowed, every default capability and no
 * seccomp profile. Ours meet "restricted" whatever the namespace enforces (the monitoring namespace
 * cannot enforce it: kube-prometheus-stack's node exporter needs the host's namespaces). Both binaries
 * write nothing to their root filesystem (the collector keeps no file-backed queue, Jaeger stores traces
 * in memory).
 */
function restrictedSecurityContexts(uid: number): { readonly pod: PodSecurityContextValues; readonly container: ContainerSecurityContextValues } {
  return {
    pod: { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } },
    container: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true },
  };
}

/** The user both the collector-contrib and the Jaeger images declare (`USER 10001`). */
const IMAGE_UID = 10001;

// ---- opentelemetry-collector ------------------------------------------------------------------

export interface CollectorPipeline {
  readonly receivers: readonly string[];
  readonly processors: readonly string[];
  readonly exporters: readonly string[];
}

export interface CollectorPort {
  readonly enabled: boolean;
  readonly containerPort?: number;
  readonly servicePort?: number;
  /** 0 removes the chart's default host port (a DaemonSet gets 4317/4318 on the node otherwise). */
  readonly hostPort?: number;
  readonly protocol?: 'TCP' | 'UDP';
}

export interface OpenTelemetryCollectorValues {
  readonly fullnameOverride: string;
  readonly mode: 'daemonset' | 'deployment';
  readonly replicaCount?: number;
  readonly image: { readonly repository: string };
  readonly command: { readonly name: string };
  /** The chart's pod `securityContext`. */
  readonly podSecurityContext: PodSecurityContextValues;
  /** The chart's collector container `securityContext`. */
  readonly securityContext: ContainerSecurityContextValues;
  readonly presets: {
    readonly kubernetesAttributes: { readonly enabled: boolean };
    readonly kubeletMetrics: { readonly enabled: boolean };
  };
  readonly service: { readonly enabled: boolean; readonly internalTrafficPolicy?: 'Local' | 'Cluster' };
  readonly ports: Readonly<Record<string, CollectorPort>>;
  readonly resources: { readonly limits: { readonly memory: string }; readonly requests: { readonly cpu: string; readonly memory: string } };
  readonly config: {
    /** null entries remove receivers of the chart's default config. */
    readonly receivers: Readonly<Record<string, unknown>>;
    readonly processors: Readonly<Record<string, unknown>>;
    readonly exporters: Readonly<Record<string, unknown>>;
    readonly service: { readonly pipelines: Readonly<Record<string, CollectorPipeline | null>> };
  };
}

/** The processor that gives OTLP metrics the `namespace` label of a direct scrape. */
export const NAMESPACE_PROCESSOR = 'resource/namespace';

/**
 * Copies the sending pod's namespace, `k8s.namespace.name` as k8sattributes found it, into a resource
 * attribute named like the Prometheus Operator's target label. With resource_to_telemetry_conversion it
 * becomes the `namespace` label, so queries group by the same label whether a proxy's metrics were
 * scraped or pushed. The `k8s_namespace_name` label stays as well; it just is not the one queries use.
 *
 * Why not a relabel rule in Prometheus: the collector scrape job's `__meta_kubernetes_namespace` is the
 * collector's own namespace, not the proxy's, and remote write goes through no relabeling at all. `upsert`
 * because the Kubernetes namespace is the truth for this label, whatever a sender put there; when
 * k8sattributes could not attribute a sender, there is nothing to copy and the processor leaves it alone.
 */
function namespaceProcessor(): { readonly attributes: readonly Readonly<Record<string, string>>[] } {
  return { attributes: [{ key: NAMESPACE_LABEL, from_attribute: 'k8s.namespace.name', action: 'upsert' }] };
}

export function collectorValues(s: StackSettings): OpenTelemetryCollectorValues {
  const daemonset = s.collectorMode === 'daemonset';
  const collectorSecurity = restrictedSecurityContexts(IMAGE_UID);
  const exporters: Record<string, unknown> = {
    // The chart's default `debug` exporter prints every span and point to stdout: noise and cost.
    debug: null,
  };
  const pipelines: Record<string, CollectorPipeline | null> = { logs: null, traces: null, metrics: null };
  const batchAfterLimiter = ['memory_limiter', 'k8sattributes', 'batch'];
  // Metrics also get the `namespace` label, set after k8sattributes has found the sending pod.
  const metricsProcessors = ['memory_limiter', 'k8sattributes', NAMESPACE_PROCESSOR, 'batch'];
  if (s.traces) {
    exporters['otlp/jaeger'] = { endpoint: `${serviceHost(SERVICES.jaeger, s.namespace)}:${PORTS.otlpGrpc}`, tls: { insecure: true } };
    pipelines.traces = { receivers: ['otlp'], processors: batchAfterLimiter, exporters: ['otlp/jaeger'] };
  }
  if (collectorHasMetricsPipeline(s)) {
    const receivers = [...(s.otlpMetrics ? ['otlp'] : []), ...(kubeletStatsEnabled(s) ? ['kubeletstats'] : [])];
    if (s.remoteWrite) {
      exporters.prometheusremotewrite = {
        endpoint: `http://${serviceHost(SERVICES.prometheus, s.namespace)}:${PORTS.prometheus}/api/v1/write`,
        // Same choice as the prometheus exporter below, so queries match in every architecture.
        resource_to_telemetry_conversion: { enabled: true },
      };
      pipelines.metrics = { receivers, processors: metricsProcessors, exporters: ['prometheusremotewrite'] };
    } else {
      exporters.prometheus = {
        endpoint: `0.0.0.0:${PORTS.collectorPrometheus}`,
        // Resource attributes (k8s namespace and pod from k8sattributes, `namespace` from NAMESPACE_PROCESSOR,
        // service.name) become labels, as a direct scrape would give them. A proxy is one resource, so this adds
        // labels, not series.
        resource_to_telemetry_conversion: { enabled: true },
        // Drop a proxy's series soon after it stops pushing (it moved to another node's collector): while both
        // collectors expose it, gauge sums would count it twice. Proxies push every 15 s.
        metric_expiration: '2m',
      };
      pipelines.metrics = { receivers, processors: metricsProcessors, exporters: ['prometheus'] };
    }
  }
  const ports: Record<string, CollectorPort> = {
    // OTLP in; no host ports: proxies reach the collector through its Service.
    'otlp': { enabled: true, containerPort: PORTS.otlpGrpc, servicePort: PORTS.otlpGrpc, hostPort: 0, protocol: 'TCP' },
    'otlp-http': { enabled: true, containerPort: PORTS.otlpHttp, servicePort: PORTS.otlpHttp, hostPort: 0, protocol: 'TCP' },
    // Receivers we do not configure: their ports would only be open doors.
    'jaeger-compact': { enabled: false },
    'jaeger-thrift': { enabled: false },
    'jaeger-grpc': { enabled: false },
    'zipkin': { enabled: false },
  };
  if (collectorExportsPrometheus(s)) {
    ports.prometheus = { enabled: true, containerPort: PORTS.collectorPrometheus, servicePort: PORTS.collectorPrometheus, protocol: 'TCP' };
  }
  return {
    fullnameOverride: SERVICES.collector,
    mode: s.collectorMode,
    ...(daemonset ? {} : { replicaCount: s.collectorReplicas }),
    // The chart requires an image. The k8s distribution (otelcol-k8s) builds in only OTLP-family
    // exporters, not `prometheus` or `prometheusremotewrite`, and would refuse this config at start.
    image: { repository: 'otel/opentelemetry-collector-contrib' },
    command: { name: 'otelcol-contrib' },
    podSecurityContext: collectorSecurity.pod,
    securityContext: collectorSecurity.container,
    presets: {
      // The presets add the processors/receivers and the ClusterRole they need (pods, namespaces, replicasets;
      // nodes/stats for the kubelet), so the RBAC stays the chart's, versioned with it.
      kubernetesAttributes: { enabled: true },
      kubeletMetrics: { enabled: kubeletStatsEnabled(s) },
    },
    // A DaemonSet gets no Service unless asked. Local keeps a proxy's telemetry on its node's collector, which is
    // the one whose k8sattributes (filtered to its node) can attribute the sending pod.
    service: daemonset ? { enabled: true, internalTrafficPolicy: 'Local' } : { enabled: true },
    ports,
    // memory_limiter works in percent of this limit.
    resources: { limits: { memory: '512Mi' }, requests: { cpu: '100m', memory: '256Mi' } },
    config: {
      receivers: {
        otlp: { protocols: { grpc: { endpoint: `0.0.0.0:${PORTS.otlpGrpc}` }, http: { endpoint: `0.0.0.0:${PORTS.otlpHttp}` } } },
        jaeger: null,
        zipkin: null,
        prometheus: null,
      },
      processors: {
        // First in every pipeline: refuse data (the proxy retries) before the collector is OOM-killed.
        memory_limiter: { check_interval: '5s', limit_percentage: 80, spike_limit_percentage: 25 },
        batch: { timeout: '5s', send_batch_size: 1024 },
        ...(collectorHasMetricsPipeline(s) ? { [NAMESPACE_PROCESSOR]: namespaceProcessor() } : {}),
      },
      exporters,
      service: { pipelines },
    },
  };
}

// ---- kube-prometheus-stack ----------------------------------------------------------------------

export interface ScrapeConfig {
  readonly job_name: string;
  readonly scrape_interval: string;
  readonly honor_labels: boolean;
  readonly kubernetes_sd_configs: readonly { readonly role: 'pod'; readonly namespaces: { readonly names: readonly string[] } }[];
  readonly relabel_configs: readonly Readonly<Record<string, unknown>>[];
  readonly metric_relabel_configs?: readonly Readonly<Record<string, unknown>>[];
}

export interface GrafanaDataSource {
  readonly name: string;
  readonly type: string;
  readonly uid: string;
  readonly url: string;
  readonly access: 'proxy';
  readonly editable: boolean;
}

export interface KubePrometheusStackValues {
  readonly fullnameOverride: string;
  readonly prometheus: {
    readonly prometheusSpec: {
      readonly retention: string;
      readonly retentionSize?: string;
      readonly scrapeInterval: string;
      readonly enableRemoteWriteReceiver: boolean;
      readonly serviceMonitorSelectorNilUsesHelmValues: false;
      readonly podMonitorSelectorNilUsesHelmValues: false;
      readonly ruleSelectorNilUsesHelmValues: false;
      readonly additionalScrapeConfigs: readonly ScrapeConfig[];
    };
  };
  readonly grafana: {
    readonly admin: { readonly existingSecret: string; readonly userKey: string; readonly passwordKey: string };
    readonly sidecar: { readonly dashboards: { readonly enabled: true; readonly label: string; readonly labelValue: string } };
    readonly additionalDataSources: readonly GrafanaDataSource[];
  };
}

export const DASHBOARD_LABEL = { key: 'grafana_dashboard', value: '1' } as const;

export function kubePrometheusStackValues(s: StackSettings): KubePrometheusStackValues {
  const scrapeConfigs: ScrapeConfig[] = [];
  if (collectorExportsPrometheus(s)) {
    const proxyMetrics = exportedSeriesNames();
    scrapeConfigs.push({
      job_name: 'otel-collector',
      scrape_interval: s.scrapeInterval,
      // Every collector pod, not the Service: in daemonset mode each pod holds only its node's proxies.
      // Labels from the OTLP resource (job, instance) are kept as exported_job/exported_instance, so two
      // collectors briefly exposing the same proxy never collide into one series.
      honor_labels: false,
      kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [s.namespace] } }],
      relabel_configs: [
        {
          source_labels: [
            '__meta_kubernetes_pod_label_app_kubernetes_io_name',
            '__meta_kubernetes_pod_label_app_kubernetes_io_instance',
            '__meta_kubernetes_pod_container_port_number',
          ],
          regex: `${POD_LABELS.collector['app.kubernetes.io/name']};${POD_LABELS.collector['app.kubernetes.io/instance']};${PORTS.collectorPrometheus}`,
          action: 'keep',
        },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'collector_pod' },
        { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'node' },
        // Deliberately no `namespace` target label: here it would be the collector's namespace, and with
        // honor_labels false it would push the proxy's own `namespace` (set by NAMESPACE_PROCESSOR) aside
        // as `exported_namespace`.
      ],
      // Hybrid: Prometheus scrapes the proxies directly, so the collector's copy of their series would double every sum.
      ...(s.directScrape && s.otlpMetrics
        ? { metric_relabel_configs: [{ source_labels: ['__name__'], regex: `(${proxyMetrics.join('|')})`, action: 'drop' }] }
        : {}),
    });
  }
  return {
    fullnameOverride: SERVICES.kubePrometheusStack,
    prometheus: {
      prometheusSpec: {
        retention: s.retention,
        ...(s.retentionSize ? { retentionSize: s.retentionSize } : {}),
        scrapeInterval: s.scrapeInterval,
        enableRemoteWriteReceiver: s.remoteWrite,
        // By default the chart's Prometheus only selects monitors and rules carrying its Helm release label;
        // ours are synthesized outside the release.
        serviceMonitorSelectorNilUsesHelmValues: false,
        podMonitorSelectorNilUsesHelmValues: false,
        ruleSelectorNilUsesHelmValues: false,
        additionalScrapeConfigs: scrapeConfigs,
      },
    },
    grafana: {
      // Never the chart's default password: credentials come from a Secret created out of band.
      admin: { existingSecret: s.grafanaAdmin.secretName, userKey: s.grafanaAdmin.userKey, passwordKey: s.grafanaAdmin.passwordKey },
      sidecar: { dashboards: { enabled: true, label: DASHBOARD_LABEL.key, labelValue: DASHBOARD_LABEL.value } },
      additionalDataSources: s.jaeger
        ? [{
          name: 'Jaeger',
          type: 'jaeger',
          uid: 'jaeger',
          url: `http://${serviceHost(SERVICES.jaeger, s.namespace)}:${PORTS.jaegerQuery}`,
          access: 'proxy',
          editable: false,
        }]
        : [],
    },
  };
}

// ---- jaeger ---------------------------------------------------------------------------------------

interface JaegerResources {
  readonly limits: { readonly memory: string };
  readonly requests: { readonly cpu: string; readonly memory: string };
}

/** One all-in-one Deployment's values, the same in both layouts. */
interface JaegerAllInOne {
  readonly enabled: true;
  readonly resources: JaegerResources;
  readonly podSecurityContext: PodSecurityContextValues;
  readonly securityContext: ContainerSecurityContextValues;
}

/**
 * The jaeger chart changed layout within its 4.x series (Jaeger v2): the all-in-one was `allInOne`
 * beside the v1 components and a provisioned Cassandra, then became `jaeger` alone. Both layouts
 * mount `userconfig` as the binary's `--config`, and Helm ignores keys a chart does not read, so these
 * values set the keys of both: whichever layout the pinned version has, it runs one all-in-one pod
 * with our configuration, and nothing else.
 */
export interface JaegerValues {
  readonly fullnameOverride: string;
  /** Later layout: the all-in-one Deployment. */
  readonly jaeger: JaegerAllInOne;
  /** 4.x layout: the all-in-one Deployment, and the v1 components and data stores it would add otherwise. */
  readonly allInOne: JaegerAllInOne;
  readonly agent: { readonly enabled: false };
  readonly collector: { readonly enabled: false };
  readonly query: { readonly enabled: false };
  readonly provisionDataStore: { readonly cassandra: false; readonly elasticsearch: false; readonly kafka: false };
  readonly storage: { readonly type: 'memory' };
  /** A complete Jaeger v2 configuration, mounted as the all-in-one's `--config` (both layouts). */
  readonly userconfig: Readonly<Record<string, unknown>>;
}

export function jaegerValues(s: StackSettings): JaegerValues {
  // In-memory storage grows with max_traces; the limit turns a mistake into a restart, not a node OOM.
  const resources: JaegerResources = { limits: { memory: '1Gi' }, requests: { cpu: '100m', memory: '256Mi' } };
  // Both layouts read `podSecurityContext` and `securityContext` beside `resources`.
  const security = restrictedSecurityContexts(IMAGE_UID);
  const allInOne: JaegerAllInOne = { enabled: true, resources, podSecurityContext: security.pod, securityContext: security.container };
  return {
    fullnameOverride: SERVICES.jaegerFullname,
    jaeger: allInOne,
    allInOne,
    agent: { enabled: false },
    collector: { enabled: false },
    query: { enabled: false },
    provisionDataStore: { cassandra: false, elasticsearch: false, kafka: false },
    storage: { type: 'memory' },
    // Our own configuration rather than the chart's defaults: only OTLP in, bounded memory, no
    // Jaeger/Zipkin receivers (nothing here speaks them).
    userconfig: {
      service: {
        extensions: ['jaeger_storage', 'jaeger_query', 'healthcheckv2'],
        pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] } },
      },
      extensions: {
        healthcheckv2: { use_v2: true, http: { endpoint: '0.0.0.0:13133' } },
        jaeger_query: { storage: { traces: 'memstore' } },
        jaeger_storage: { backends: { memstore: { memory: { max_traces: s.jaegerMaxTraces } } } },
      },
      receivers: { otlp: { protocols: { grpc: { endpoint: `0.0.0.0:${PORTS.otlpGrpc}` }, http: { endpoint: `0.0.0.0:${PORTS.otlpHttp}` } } } },
      processors: { batch: {} },
      exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
    },
  };
}

export type ChartValues = OpenTelemetryCollectorValues | KubePrometheusStackValues | JaegerValues;
