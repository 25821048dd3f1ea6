/**
 * Names, ports and pod labels of what the three Helm releases create, in one place: the values, the
 * NetworkPolicies, the proxies' OTLP endpoint and the Grafana data source all derive from these, so
 * renaming a release cannot leave a policy pointing at pods that no longer match.
 *
 * Each release sets `fullnameOverride`, which makes the Service names independent of the release name
 * (the charts would otherwise prefix them with it). Pod labels are the charts' own selector labels:
 * `app.kubernetes.io/name` (the chart) and `app.kubernetes.io/instance` (the release).
 */

export const RELEASES = {
  kubePrometheusStack: {
    releaseName: 'kube-prometheus-stack',
    chart: 'kube-prometheus-stack',
    repoURL: 'https://prometheus-community.github.io/helm-charts',
  },
  openTelemetryCollector: {
    releaseName: 'otel-collector',
    chart: 'opentelemetry-collector',
    repoURL: 'https://open-telemetry.github.io/opentelemetry-helm-charts',
  },
  jaeger: {
    releaseName: 'jaeger',
    chart: 'jaeger',
    repoURL: 'https://jaegertracing.github.io/helm-charts',
  },
} as const;

export type ReleaseKey = keyof typeof RELEASES;

/**
 * Pinned chart versions. kube-prometheus-stack is the seed tutorial's. The other two are the newest
 * releases confirmed at the time of writing: opentelemetry-collector 0.177.0 (collector 0.163.2) and
 * jaeger 4.1.5 (Jaeger v2, all-in-one); docs/observability.md says where each was confirmed.
 */
export const DEFAULT_CHART_VERSIONS: Readonly<Record<ReleaseKey, string>> = {
  kubePrometheusStack: '77.12.0',
  openTelemetryCollector: '0.177.0',
  jaeger: '4.1.5',
};

export const PORTS = {
  otlpGrpc: 4317,
  otlpHttp: 4318,
  /** The collector's `prometheus` exporter. */
  collectorPrometheus: 8889,
  prometheus: 9090,
  jaegerQuery: 16686,
  /** Grafana's container port (its Service maps 80 to it). */
  grafana: 3000,
} as const;

/** Service names (fullnameOverride, or our own) and the DNS names built from them. */
export const SERVICES = {
  collector: 'otel-collector',
  /**
   * A Service of our own in front of the Jaeger all-in-one pod: the chart named its Services
   * `<fullname>-collector`/`-query` in its 4.x layout and `<fullname>` after, so we do not depend on either.
   */
  jaeger: 'jaeger-all-in-one',
  /** fullnameOverride of the jaeger release. */
  jaegerFullname: 'jaeger',
  kubePrometheusStack: 'kube-prometheus-stack',
  /** kube-prometheus-stack names its Prometheus `<fullname>-prometheus`. */
  prometheus: 'kube-prometheus-stack-prometheus',
} as const;

export function serviceHost(service: string, namespace: string): string {
  return `${service}.${namespace}.svc`;
}

export const POD_LABELS = {
  collector: { 'app.kubernetes.io/name': 'opentelemetry-collector', 'app.kubernetes.io/instance': RELEASES.openTelemetryCollector.releaseName },
  /** The all-in-one pod, labelled so by every layout of the jaeger chart. */
  jaeger: { 'app.kubernetes.io/name': 'jaeger', 'app.kubernetes.io/instance': RELEASES.jaeger.releaseName, 'app.kubernetes.io/component': 'all-in-one' },
  /** prometheus-operator labels the pods of the Prometheus `kube-prometheus-stack-prometheus` so. */
  prometheus: { 'app.kubernetes.io/name': 'prometheus', 'operator.prometheus.io/name': SERVICES.prometheus },
  grafana: { 'app.kubernetes.io/name': 'grafana', 'app.kubernetes.io/instance': RELEASES.kubePrometheusStack.releaseName },
} as const;

/** Labels on every object the stack synthesizes itself. */
export function stackLabels(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'toolhive-observability',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'toolhive-cdk8s',
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
}
