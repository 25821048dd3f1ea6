/**
 * ObservabilityStack: the monitoring side of the MCP servers, in the four architectures of the post
 * "Bridging the Observability Gap" (shared/seeds/003): OpenTelemetry Collector, kube-prometheus-stack
 * and Jaeger as upstream Helm charts with our values, plus what those charts cannot know about us:
 * monitors for the proxies, alerts, a dashboard and the NetworkPolicies telemetry needs.
 *
 * It implements IProxyObservability: an McpServer given `observability: stack` asks it, once per
 * proxy, where to send telemetry and who scrapes it.
 */
import type { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { PrometheusRule, PrometheusRuleSpecGroupsRulesExpr } from '../imports/prometheusrule-monitoring.coreos.com.ts';
import { markClusterScoped } from './_metadata.ts';
import { alertRules, resolveThresholds, type AlertRule, type AlertThresholds } from './_observability-alerts.ts';
import { helmApplication, type HelmReleaseSpec } from './_observability-argocd.ts';
import { DASHBOARD_UID, dashboardJson } from './_observability-dashboard.ts';
import { MONITOR_ID, proxyMonitor } from './_observability-monitors.ts';
import { DEFAULT_CHART_VERSIONS, PORTS, POD_LABELS, RELEASES, SERVICES, serviceHost, stackLabels } from './_observability-names.ts';
import { telemetryNetworkPolicies } from './_observability-network.ts';
import {
  collectorValues, DASHBOARD_LABEL, jaegerValues, kubePrometheusStackValues,
  type StackSettings,
} from './_observability-values.ts';
import type {
  IProxyObservability, ProxyObservabilityBinding, ProxyObservabilityTarget, TelemetryPeer,
} from './observability-binding.ts';

export type { AlertThresholds } from './_observability-alerts.ts';
export type {
  JaegerValues, KubePrometheusStackValues, OpenTelemetryCollectorValues,
} from './_observability-values.ts';

/** How metrics travel from the proxies to Prometheus (traces always go proxy → collector → Jaeger). */
export class ObservabilityArchitecture {
  /** 1 (default, the seed's recommendation): proxies push OTLP to the collector; Prometheus scrapes the collector. */
  public static collectorScrape(): ObservabilityArchitecture {
    return new ObservabilityArchitecture('collector-scrape', true, false, false);
  }
  /** 2: proxies push OTLP to the collector, which remote-writes into Prometheus (its receiver turned on). */
  public static collectorRemoteWrite(): ObservabilityArchitecture {
    return new ObservabilityArchitecture('collector-remote-write', true, false, true);
  }
  /** 3: Prometheus scrapes every proxy's metrics port through a ServiceMonitor/PodMonitor; only traces are pushed. */
  public static directScrape(): ObservabilityArchitecture {
    return new ObservabilityArchitecture('direct-scrape', false, true, false);
  }
  /**
   * 4: proxies push traces and metrics over OTLP and are scraped directly. Prometheus keeps the direct
   * scrape and drops the collector's copy of the proxy series (no double counting); the OTLP metrics
   * stream is there for exporters you add to the collector.
   */
  public static hybrid(): ObservabilityArchitecture {
    return new ObservabilityArchitecture('hybrid', true, true, false);
  }

  private constructor(
    /** `collector-scrape`, `collector-remote-write`, `direct-scrape` or `hybrid`. */
    public readonly name: string,
    /** Proxies push metrics over OTLP. */
    public readonly otlpMetrics: boolean,
    /** Prometheus scrapes each proxy's metrics port. */
    public readonly directScrape: boolean,
    /** The collector remote-writes into Prometheus instead of being scraped. */
    public readonly remoteWrite: boolean,
  ) {}
}

/** How the collector runs. */
export class CollectorMode {
  /** One collector per node (the seed's choice): telemetry stays on the node, and kubeletstats reads each node's kubelet. */
  public static daemonset(): CollectorMode {
    return new CollectorMode('daemonset', 1);
  }
  /**
   * A Deployment. kubeletstats is off in this mode (it can only read one node's kubelet); the
   * kube-prometheus-stack's own kubelet/cAdvisor scraping covers resource metrics.
   * @param replicas more than 1 only with remote write: with a scraped Prometheus exporter, a proxy
   *   whose pushes alternate between replicas would appear twice.
   */
  public static deployment(options: { readonly replicas?: number } = {}): CollectorMode {
    return new CollectorMode('deployment', options.replicas ?? 1);
  }
  private constructor(public readonly mode: 'daemonset' | 'deployment', public readonly replicas: number) {}
}

/** Which prometheus-operator resource scrapes a proxy in the direct-scrape architectures. */
export class MonitorKind {
  /** A ServiceMonitor on the proxy's Service (its `metrics` port). */
  public static serviceMonitor(): MonitorKind {
    return new MonitorKind('ServiceMonitor');
  }
  /** A PodMonitor on the proxy's pods: no dependency on the Service exposing the port. */
  public static podMonitor(): MonitorKind {
    return new MonitorKind('PodMonitor');
  }
  private constructor(public readonly kind: 'ServiceMonitor' | 'PodMonitor') {}
}

/** An existing Secret holding the Grafana admin credentials. */
export interface GrafanaAdminSecret {
  /** Name of the Secret, in the stack's namespace. */
  readonly secretName: string;
  /** Key of the user name. @default "admin-user" */
  readonly userKey?: string;
  /** Key of the password. @default "admin-password" */
  readonly passwordKey?: string;
}

/** Chart versions to install (pinned; Argo CD `targetRevision` and `helm --version`). */
export interface ObservabilityChartVersions {
  /** @default "77.12.0" */
  readonly kubePrometheusStack?: string;
  /** @default "0.177.0" */
  readonly openTelemetryCollector?: string;
  /** @default "4.1.5" */
  readonly jaeger?: string;
}

/** Where and how the Argo CD Applications install the charts. */
export interface ObservabilityArgoCdOptions {
  /** Namespace Argo CD watches for Applications. @default "argocd" */
  readonly namespace?: string;
  /** Argo CD project. @default "default" */
  readonly project?: string;
  /** Destination cluster API. @default "https://kubernetes.default.svc" (the cluster Argo CD runs in) */
  readonly destinationServer?: string;
  /** Sync automatically, with prune and self-heal. @default false (sync by hand, as for the first install) */
  readonly automated?: boolean;
}

export interface ObservabilityStackProps {
  /** How metrics reach Prometheus. @default ObservabilityArchitecture.collectorScrape() */
  readonly architecture?: ObservabilityArchitecture;
  /** Namespace of the three releases, the dashboard and the policies. @default "monitoring" */
  readonly namespace?: string;
  /** Emit the Namespace object, so plain `kubectl apply -f dist/` works before the charts. @default true */
  readonly createNamespace?: boolean;
  /** Chart versions. @default the pinned versions documented on each field */
  readonly chartVersions?: ObservabilityChartVersions;
  /** How the collector runs. @default CollectorMode.daemonset() */
  readonly collectorMode?: CollectorMode;
  /** Install Jaeger (all-in-one, in-memory). Without it there is no trace backend. @default true */
  readonly jaeger?: boolean;
  /** Traces Jaeger keeps in memory before dropping the oldest. @default 50000 */
  readonly jaegerMaxTraces?: number;
  /** Proxies export traces. @default true when `jaeger` is on, false otherwise */
  readonly traces?: boolean;
  /** Fraction of new traces sampled by the proxies (parent-based), 0 to 1. @default 1 */
  readonly samplingRatio?: number;
  /** Prometheus retention, in Prometheus duration format (e.g. `15d`, `12h`). @default "15d" */
  readonly retention?: string;
  /** Prometheus size-based retention (e.g. `10GiB`). @default - time-based only */
  readonly retentionSize?: string;
  /** Scrape interval of the proxies and the collector. @default "30s" */
  readonly scrapeInterval?: string;
  /** Grafana admin credentials: a Secret you create; no password ever goes into `dist/`. @default {secretName: "grafana-admin"} */
  readonly grafanaAdminSecret?: GrafanaAdminSecret;
  /** Monitor kind for the direct-scrape architectures. @default MonitorKind.serviceMonitor() */
  readonly monitorKind?: MonitorKind;
  /** Alert thresholds. @default see AlertThresholds */
  readonly alertThresholds?: AlertThresholds;
  /** Argo CD Applications. @default see ObservabilityArgoCdOptions */
  readonly argoCd?: ObservabilityArgoCdOptions;
}

/** One chart to install: what `helm upgrade -i RELEASE CHART --repo REPO --version V -n NS -f values` needs. */
export interface ObservabilityHelmRelease<V extends object = object> extends HelmReleaseSpec {
  readonly values: V;
}

const DURATION = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;
const BYTE_SIZE = /^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SEMVER = /^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$/;

/** A non-zero Prometheus duration (the CRD's pattern also accepts "" and "0", which mean nothing here). */
function isDuration(value: string): boolean {
  return value !== '' && DURATION.test(value) && !/^0/.test(value);
}

function fail(message: string): never {
  throw new Error(`observability stack: ${message}`);
}

export class ObservabilityStack extends Construct implements IProxyObservability {
  /** The construct id of each proxy's monitor (architectures 3 and 4), created under the proxy. */
  public static readonly MONITOR_ID = MONITOR_ID;
  /** Id of the child construct holding every object of this stack whose kind needs a CRD. */
  public static readonly CUSTOM_RESOURCES_ID = 'CustomResources';

  /** True for kinds installed by a CRD (prometheus-operator, Argo CD): apply them after the charts. */
  public static needsCrd(obj: ApiObject): boolean {
    return /^(monitoring\.coreos\.com|argoproj\.io)\//.test(obj.apiVersion);
  }

  public readonly architecture: ObservabilityArchitecture;
  public readonly namespace: string;
  /** The proxies' OTLP/HTTP base URL (the collector's Service). */
  public readonly otlpEndpoint: string;
  /** The dashboard ConfigMap. */
  public readonly dashboard: ApiObject;
  /** The Service the collector and Grafana reach Jaeger through (absent without Jaeger). */
  public readonly jaegerService?: ApiObject;
  /** The alerting rules. */
  public readonly rules: PrometheusRule;
  /** Argo CD Applications, one per chart. */
  public readonly applications: readonly ApiObject[];
  /** Child construct holding the objects that need CRDs (rules, Applications); see also `customResources`. */
  public readonly customResourcesScope: Construct;

  private readonly settings: StackSettings;
  private readonly versions: Required<ObservabilityChartVersions>;
  private readonly samplingRatio: number;
  private readonly monitorKind: MonitorKind;
  private readonly scrapeInterval: string;
  private readonly otlpSenders: TelemetryPeer[] = [];
  private readonly boundServers = new Set<string>();
  private readonly monitors: ApiObject[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityStackProps = {}) {
    super(scope, id);
    const architecture = props.architecture ?? ObservabilityArchitecture.collectorScrape();
    const namespace = props.namespace ?? 'monitoring';
    if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
      fail(`namespace "${namespace}" is not a DNS-1123 label (lower-case letters, digits, "-", at most 63); e.g. "monitoring"`);
    }
    const jaeger = props.jaeger ?? true;
    if (props.traces === true && !jaeger) fail('traces are requested but jaeger is off: there would be no trace backend; turn jaeger on or set traces: false');
    const traces = props.traces ?? jaeger;
    const retention = props.retention ?? '15d';
    if (!isDuration(retention)) fail(`retention "${retention}" is not a Prometheus duration such as "15d", "12h" or "1w"`);
    if (props.retentionSize !== undefined && !BYTE_SIZE.test(props.retentionSize)) fail(`retentionSize "${props.retentionSize}" is not a size such as "10GiB" or "500MB"`);
    const scrapeInterval = props.scrapeInterval ?? '30s';
    if (!isDuration(scrapeInterval)) fail(`scrapeInterval "${scrapeInterval}" is not a Prometheus duration such as "30s"`);
    const samplingRatio = props.samplingRatio ?? 1;
    if (!(samplingRatio >= 0 && samplingRatio <= 1)) fail(`samplingRatio ${samplingRatio} is not between 0 and 1`);
    const jaegerMaxTraces = props.jaegerMaxTraces ?? 50000;
    if (!(Number.isInteger(jaegerMaxTraces) && jaegerMaxTraces > 0)) fail(`jaegerMaxTraces ${jaegerMaxTraces} must be a positive integer (it bounds Jaeger's memory)`);
    const collectorMode = props.collectorMode ?? CollectorMode.daemonset();
    if (!(Number.isInteger(collectorMode.replicas) && collectorMode.replicas >= 1)) fail(`collector replicas ${collectorMode.replicas} must be a positive integer`);
    if (collectorMode.replicas > 1 && architecture.otlpMetrics && !architecture.remoteWrite) {
      fail(`${collectorMode.replicas} collector replicas with architecture ${architecture.name}: a proxy pushing to two replicas would be scraped twice; use 1 replica, a daemonset, or collectorRemoteWrite()`);
    }
    const admin = props.grafanaAdminSecret ?? { secretName: 'grafana-admin' };
    if (!admin.secretName) fail('grafanaAdminSecret.secretName is empty; name the Secret holding the Grafana admin user and password');
    const thresholds = resolveThresholds(props.alertThresholds);
    for (const [chart, version] of Object.entries(props.chartVersions ?? {})) {
      // A pinned release, not a range: `helm --version` and Argo CD accept ranges, which would unpin the install.
      if (version !== undefined && !SEMVER.test(version)) fail(`chartVersions.${chart} "${version}" is not an exact chart version such as "1.2.3"`);
    }
    const argoNamespace = props.argoCd?.namespace ?? 'argocd';
    if (!DNS_LABEL.test(argoNamespace)) fail(`argoCd.namespace "${argoNamespace}" is not a DNS-1123 label; e.g. "argocd"`);

    this.architecture = architecture;
    this.namespace = namespace;
    this.samplingRatio = samplingRatio;
    this.monitorKind = props.monitorKind ?? MonitorKind.serviceMonitor();
    this.scrapeInterval = scrapeInterval;
    this.versions = { ...DEFAULT_CHART_VERSIONS, ...props.chartVersions };
    this.settings = {
      namespace, traces, jaeger, jaegerMaxTraces, retention, retentionSize: props.retentionSize, scrapeInterval,
      otlpMetrics: architecture.otlpMetrics, directScrape: architecture.directScrape, remoteWrite: architecture.remoteWrite,
      collectorMode: collectorMode.mode, collectorReplicas: collectorMode.replicas,
      grafanaAdmin: { secretName: admin.secretName, userKey: admin.userKey ?? 'admin-user', passwordKey: admin.passwordKey ?? 'admin-password' },
    };
    this.otlpEndpoint = `http://${serviceHost(SERVICES.collector, namespace)}:${PORTS.otlpHttp}`;

    if (props.createNamespace ?? true) {
      const ns = new k8s.KubeNamespace(this, 'Namespace', { metadata: { name: namespace, labels: stackLabels('namespace') } });
      markClusterScoped(ns);
    }

    this.dashboard = new k8s.KubeConfigMap(this, 'Dashboard', {
      metadata: {
        name: `${DASHBOARD_UID}-dashboard`,
        namespace,
        labels: { ...stackLabels('dashboard'), [DASHBOARD_LABEL.key]: DASHBOARD_LABEL.value },
      },
      data: { [`${DASHBOARD_UID}.json`]: `${JSON.stringify(dashboardJson(), null, 2)}\n` },
    });

    if (jaeger) {
      this.jaegerService = new k8s.KubeService(this, 'JaegerService', {
        metadata: { name: SERVICES.jaeger, namespace, labels: stackLabels('tracing') },
        spec: {
          selector: { ...POD_LABELS.jaeger },
          ports: [
            { name: 'otlp-grpc', port: PORTS.otlpGrpc, targetPort: k8s.IntOrString.fromNumber(PORTS.otlpGrpc), appProtocol: 'grpc' },
            { name: 'otlp-http', port: PORTS.otlpHttp, targetPort: k8s.IntOrString.fromNumber(PORTS.otlpHttp) },
            { name: 'http-query', port: PORTS.jaegerQuery, targetPort: k8s.IntOrString.fromNumber(PORTS.jaegerQuery) },
          ],
        },
      });
    }

    telemetryNetworkPolicies(this, this.settings, () => this.otlpSenders);

    this.customResourcesScope = new Construct(this, ObservabilityStack.CUSTOM_RESOURCES_ID);
    this.rules = new PrometheusRule(this.customResourcesScope, 'Rules', {
      metadata: { name: 'toolhive-mcp-alerts', namespace, labels: stackLabels('alerts') },
      spec: { groups: [{ name: 'toolhive-mcp', rules: alertRules(thresholds).map(toRule) }] },
    });
    const argo = {
      namespace: argoNamespace,
      project: props.argoCd?.project ?? 'default',
      destinationServer: props.argoCd?.destinationServer ?? 'https://kubernetes.default.svc',
      automated: props.argoCd?.automated ?? false,
    };
    this.applications = this.helmReleases().map((release) => {
      const isPrometheusStack = release.releaseName === RELEASES.kubePrometheusStack.releaseName;
      return helmApplication(this.customResourcesScope, `App-${release.releaseName}`, release, argo,
        { serverSideApply: isPrometheusStack, syncWave: isPrometheusStack ? -1 : 0 });
    });
  }

  /** The three charts with their values; `helm upgrade -i` each with `-f` a file holding `values`. */
  public helmReleases(): ObservabilityHelmRelease[] {
    const releases: ObservabilityHelmRelease[] = [
      this.release('kubePrometheusStack', kubePrometheusStackValues(this.settings)),
      this.release('openTelemetryCollector', collectorValues(this.settings)),
    ];
    if (this.settings.jaeger) releases.push(this.release('jaeger', jaegerValues(this.settings)));
    return releases;
  }

  /**
   * The values of `helmReleases()` as YAML files (`<dir>/<release>.yaml`), each headed by the command
   * that installs it, for an app to place in `dist/`.
   */
  public helmValuesFiles(dir = 'helm-values'): { readonly path: string; readonly content: string }[] {
    return this.helmReleases().map((r) => ({
      path: `${dir}/${r.releaseName}.yaml`,
      content: `# helm upgrade -i ${r.releaseName} ${r.chart} --repo ${r.repoURL} --version ${r.version} `
        + `-n ${r.namespace} --create-namespace -f ${dir}/${r.releaseName}.yaml\n`
        + `# Generated by ObservabilityStack (architecture ${this.architecture.name}). Do not edit: change the app.\n`
        + stringify(r.values, { lineWidth: 0, aliasDuplicateObjects: false }),
    }));
  }

  /** Every object of this stack (and of the proxies bound to it) whose kind needs a CRD. */
  public get customResources(): readonly ApiObject[] {
    return [this.rules, ...this.applications, ...this.monitors];
  }

  /**
   * Lets other workloads push OTLP to the collector (4317/4318). Bound proxies are admitted already;
   * the collector's ingress policy refuses everyone else.
   */
  public allowOtlpFrom(peer: TelemetryPeer): void {
    if (!DNS_LABEL.test(peer.namespace)) fail(`allowOtlpFrom: namespace "${peer.namespace}" is not a DNS-1123 label`);
    this.otlpSenders.push({ namespace: peer.namespace, ...(peer.podLabels ? { podLabels: { ...peer.podLabels } } : {}) });
  }

  public bindProxy(target: ProxyObservabilityTarget): ProxyObservabilityBinding {
    const key = `${target.namespace}/${target.serverName}`;
    if (this.boundServers.has(key)) fail(`proxy "${key}" is already bound; bindProxy runs once per proxy`);
    this.boundServers.add(key);
    const { traces, otlpMetrics, directScrape } = this.settings;
    const pushes = traces || otlpMetrics;
    if (pushes) this.otlpSenders.push({ namespace: target.namespace, podLabels: { ...target.selectorLabels } });
    if (directScrape) this.monitors.push(proxyMonitor(target, this.monitorKind.kind, this.scrapeInterval));
    return {
      telemetry: {
        serviceName: target.serverName,
        ...(pushes
          ? { otlp: { endpoint: this.otlpEndpoint, traces, metrics: otlpMetrics, samplingRatio: this.samplingRatio } }
          : {}),
      },
      metricsScrapers: directScrape
        ? [{ namespace: this.namespace, podLabels: { ...POD_LABELS.prometheus }, ports: [target.metricsPort] }]
        : [],
      telemetryEgress: pushes
        ? [{ namespace: this.namespace, podLabels: { ...POD_LABELS.collector }, ports: [PORTS.otlpHttp] }]
        : [],
    };
  }

  private release<V extends object>(key: keyof typeof RELEASES, values: V): ObservabilityHelmRelease<V> {
    return { ...RELEASES[key], version: this.versions[key], namespace: this.namespace, values };
  }
}

function toRule(rule: AlertRule) {
  return {
    alert: rule.alert,
    expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr),
    for: rule.for,
    labels: { severity: rule.severity },
    annotations: { summary: rule.summary, description: rule.description, runbook: rule.runbook },
  };
}

