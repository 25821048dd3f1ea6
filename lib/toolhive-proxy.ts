/**
 * ToolHiveProxy: the only way in to an MCP server. Bridges HTTP clients (Streamable HTTP at `/mcp`,
 * legacy SSE at `/sse` + `/messages`) to a stdio server through `pods/attach`, or to an HTTP server.
 */
import { createHash } from 'node:crypto';
import type { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { DEFAULT_ALLOWED_HOSTS, validateProxyConfig, type LimitsConfig, type ProxyConfig, type TelemetryConfig } from '../proxy/src/config.ts';
import { claimObjectName, namespaceOf, standardLabels, selectorLabels } from './_metadata.ts';
import { hardenedPodSpecDefaults, hardenedSecurity, IMAGE_PULL_POLICY, resourceRequirements, TMP_MOUNT, TMP_VOLUME, warnIfNotRestricted } from './_pod-security.ts';
import { createProxyExposure, createProxyNetworkPolicies } from './_proxy-network.ts';
import { createProxyRbac, type ProxyRbac } from './_proxy-rbac.ts';
import { checkCidr, checkHostname, checkImage, checkNamespaceName, checkNonEmpty, checkPort, checkServerName, McpInputError } from './_validation.ts';
import { warn } from './_warnings.ts';
import type { Exposure } from './exposure.ts';
import { McpTransport } from './mcp-transport.ts';
import type { IProxyObservability, ProxyObservabilityBinding, TelemetryPeer } from './observability-binding.ts';
import { RbacScope } from './rbac-scope.ts';
import type { ContainerResources } from './workload-inputs.ts';

export const DEFAULT_PROXY_IMAGE = 'ghcr.io/toolhive-cdk8s/toolhive-proxy:0.1.0';
export const PROXY_HTTP_PORT = 8080;
export const PROXY_METRICS_PORT = 9464;
const CONFIG_DIR = '/etc/toolhive-proxy';

/** Telemetry settings given by hand, when no `IProxyObservability` wires them. */
export interface ProxyTelemetryOptions {
  /** The `telemetry` section of the proxy configuration (OTLP endpoint, sampling). */
  readonly config: TelemetryConfig;
  /**
   * Where that telemetry is sent, opened in the proxy's egress NetworkPolicy.
   * @default [] (no egress: set it, or exports are dropped by the policy)
   */
  readonly egress?: readonly TelemetryPeer[];
}

/** Proxy settings an McpServer passes through (the `proxy` prop). */
export interface ToolHiveProxyOptions {
  /**
   * Proxy image, pinned by tag or digest.
   * @default "ghcr.io/toolhive-cdk8s/toolhive-proxy:0.1.0"
   */
  readonly image?: string;
  /**
   * Proxy pods. Only Streamable HTTP backends can have more than one: a second attacher to a stdio
   * server would interleave its writes into the same stdin, and a proxy pod keeps the SSE sessions
   * it opened in memory.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * CPU and memory of the proxy container. The memory defaults follow the proxy's measured RSS
   * (docs/benchmarks.md): with the attach backend (which loads the Kubernetes client library) about
   * 170 MB idle, of which ~55 MB are shared file pages, 240 MB at 1,000 concurrent clients, and
   * ~310 MB after three bursts of 1,000 new connections with no limit set. For around 1,000
   * clients or reconnect storms, see proxy/README.md, "Sizing a proxy".
   * @default {cpuRequest: "50m", cpuLimit: "500m", memoryRequest: "128Mi", memoryLimit: "384Mi"}
   */
  readonly resources?: ContainerResources;
  /**
   * Where the attach permission is granted (stdio servers; HTTP backends get no RBAC at all).
   * @default RbacScope.serverNamespace()
   */
  readonly rbacScope?: RbacScope;
  /**
   * Namespace allowed to scrape the metrics port 9464.
   * @default "monitoring"
   */
  readonly monitoringNamespace?: string;
  /**
   * Namespaces whose pods may reach port 8080; an exposure's controller namespace is added.
   * `["*"]` admits every namespace, and synth prints a warning.
   * @default - the proxy's own namespace
   */
  readonly clientNamespaces?: readonly string[];
  /**
   * CIDRs of the Kubernetes API server, for the egress NetworkPolicy (attach goes through it on 443
   * or 6443). Narrow it to your control plane's addresses when you know them (`kubectl get
   * endpoints kubernetes -n default`); an empty list is refused, as it would mean any address.
   * @default ["0.0.0.0/0", "::/0"]
   */
  readonly apiServerCidrs?: readonly string[];
  /**
   * Request limits of the proxy (body size, timeouts, sessions, in-flight).
   * @default - the proxy's defaults (4 MiB body, 60 s timeout, ...)
   */
  readonly limits?: LimitsConfig;
  /**
   * Browser origins allowed to call the proxy (DNS-rebinding protection).
   * @default [] (requests carrying an Origin header are refused)
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * `Host` header values accepted besides the in-cluster names and exposure hosts.
   * @default []
   */
  readonly extraAllowedHosts?: readonly string[];
  /**
   * Lowest log level written.
   * @default "info"
   */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Escape hatch: fields merged over the generated pod spec of the proxy (e.g. `nodeSelector`,
   * `tolerations`, `priorityClassName`). A field given here replaces ours whole, hardening included.
   * @default {}
   */
  readonly podSpecOverrides?: Partial<k8s.PodSpec>;
}

export interface ToolHiveProxyProps extends ToolHiveProxyOptions {
  /** Name of the MCP server it fronts (a DNS-1123 label); objects are named `mcp-<serverName>-proxy`. */
  readonly serverName: string;
  /**
   * How the server speaks MCP.
   * @default McpTransport.stdio()
   */
  readonly transport?: McpTransport;
  /**
   * Namespace of the proxy's objects.
   * @default - the chart's namespace
   */
  readonly namespace?: string;
  /**
   * Namespace of the MCP server's pods.
   * @default - the proxy's namespace
   */
  readonly serverNamespace?: string;
  /**
   * Pod the proxy attaches to (stdio).
   * @default "<serverName>-0" (pod 0 of the server's StatefulSet)
   */
  readonly serverPodName?: string;
  /**
   * MCP endpoint of an HTTP server.
   * @default "http://<serverName>.<serverNamespace>.svc:<port><path>" (its headless Service)
   */
  readonly serverUrl?: string;
  /**
   * Labels of the MCP server's pods, for the egress NetworkPolicy to them (HTTP).
   * @default - the labels McpServer puts on its pods
   */
  readonly serverPodLabels?: Readonly<Record<string, string>>;
  /**
   * Ingress or HTTPRoute in front of the proxy Service.
   * @default - none: in-cluster clients and `kubectl port-forward` only
   */
  readonly exposure?: Exposure;
  /**
   * Who observes this proxy (an ObservabilityStack, or your own implementation).
   * @default - none: `/metrics` is served on 9464, nothing is exported
   */
  readonly observability?: IProxyObservability;
  /**
   * Telemetry given by hand, when `observability` is not used.
   * @default - none
   */
  readonly telemetry?: ProxyTelemetryOptions;
}

/** One proxy in front of one MCP server. */
export class ToolHiveProxy extends Construct {
  /** Name shared by the Deployment, Service, ServiceAccount and ConfigMap: `mcp-<serverName>-proxy`. */
  public readonly name: string;
  public readonly namespace: string;
  /** The configuration written into the ConfigMap (`config.json`). */
  public readonly config: ProxyConfig;
  public readonly deployment: k8s.KubeDeployment;
  public readonly service: k8s.KubeService;
  public readonly serviceAccount: k8s.KubeServiceAccount;
  public readonly configMap: k8s.KubeConfigMap;
  /** The attach permission (empty for HTTP backends). */
  public readonly rbac: ProxyRbac;
  public readonly ingressPolicy: k8s.KubeNetworkPolicy;
  public readonly egressPolicy: k8s.KubeNetworkPolicy;
  /** The Ingress or HTTPRoute, when `exposure` is set. */
  public readonly exposureObject?: ApiObject;
  /** In-cluster base URL of the proxy Service. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: ToolHiveProxyProps) {
    super(scope, id);
    const server = props.serverName;
    checkServerName(server);
    const namespace = namespaceOf(this, props.namespace);
    if (namespace === undefined) {
      throw new McpInputError(server, 'the proxy has no namespace: give the chart a namespace (new Chart(app, id, { namespace })) or set `namespace`');
    }
    checkNamespaceName(server, 'namespace', namespace);
    const serverNamespace = props.serverNamespace ?? namespace;
    checkNamespaceName(server, 'serverNamespace', serverNamespace);
    const transport = props.transport ?? McpTransport.stdio();
    const image = props.image ?? DEFAULT_PROXY_IMAGE;
    if (checkImage(server, 'proxy.image', image).isLatest) {
      warn(server, `proxy.image "${image}" uses the "latest" tag: pin a version so every node runs the same proxy`);
    }
    const replicas = props.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new McpInputError(server, `proxy.replicas ${replicas} is not a positive integer: use 1 or more`);
    }
    if (!transport.isHttp && replicas > 1) {
      throw new McpInputError(server, `proxy.replicas ${replicas} on a stdio server: a second attacher would interleave writes into the server's stdin (see docs/ATTACH); use 1, or an HTTP transport to scale`);
    }
    if (transport.name === 'sse' && replicas > 1) {
      throw new McpInputError(server, `proxy.replicas ${replicas} on an SSE server: a proxy pod keeps the SSE sessions it opened in memory, so a POST /messages reaching another pod finds no session; use 1, or Streamable HTTP`);
    }
    const rbacScope = props.rbacScope ?? RbacScope.serverNamespace();
    if (rbacScope.kind === 'namespaces') {
      checkNonEmpty(server, 'rbacScope namespaces', rbacScope.namespaces, `list at least the server's namespace, e.g. RbacScope.namespace(["${serverNamespace}"])`);
      rbacScope.namespaces.forEach((ns) => checkNamespaceName(server, 'rbacScope namespace', ns));
      if (!transport.isHttp && !rbacScope.namespaces.includes(serverNamespace)) {
        throw new McpInputError(server, `rbacScope namespaces [${rbacScope.namespaces.join(', ')}] do not include the server's namespace "${serverNamespace}": the proxy could not attach; add it`);
      }
    }
    if (rbacScope.kind === 'cluster' && !transport.isHttp) {
      warn(server, `rbacScope is RbacScope.cluster(): the proxy may attach to a pod named "${props.serverPodName ?? `${server}-0`}" in every namespace, not only "${serverNamespace}"; RbacScope.serverNamespace() (the default) or RbacScope.namespace([...]) keep it to the namespaces you list`);
    }
    checkExposure(server, props.exposure, props.extraAllowedHosts);
    const apiServerCidrs = props.apiServerCidrs ?? ['0.0.0.0/0', '::/0'];
    if (props.apiServerCidrs) {
      checkNonEmpty(server, 'proxy.apiServerCidrs', apiServerCidrs, 'list the API server\'s addresses, e.g. ["10.0.0.1/32"], or leave it unset for any address');
      apiServerCidrs.forEach((cidr) => checkCidr(server, 'proxy.apiServerCidrs', cidr));
    }
    for (const peer of props.telemetry?.egress ?? []) {
      checkNamespaceName(server, 'telemetry.egress namespace', peer.namespace);
      for (const port of peer.ports ?? []) checkPort(server, 'telemetry.egress port', port);
    }
    if (props.observability && props.telemetry) {
      throw new McpInputError(server, 'both `observability` and `telemetry` are set: use `observability` to wire a stack, or `telemetry` by hand, not both');
    }

    const podName = props.serverPodName ?? `${server}-0`;
    this.name = `mcp-${server}-proxy`;
    const holder = claimObjectName(this, namespace, this.name, `the proxy of server "${server}"`);
    if (holder !== undefined) {
      throw new McpInputError(server, `the proxy's name "${this.name}" is already used in namespace "${namespace}" by ${holder}: ${holder.startsWith('the proxy') ? 'one server has one proxy' : 'rename that server'}, or put this proxy in another namespace`);
    }
    if (!transport.isHttp) {
      // One attacher per stdio server's pod, whatever the namespaces, names and RBAC scopes: a second
      // one would interleave writes into its stdin (and a second proxy of one server would replace
      // the first one's attach Role). The key cannot clash with an object name (no ':' in those).
      const attacher = claimObjectName(this, serverNamespace, `attach:${podName}`, `the proxy of server "${server}" in namespace "${namespace}"`);
      if (attacher !== undefined) {
        throw new McpInputError(server, `pod "${podName}" in namespace "${serverNamespace}" already has a proxy attached (${attacher}): a stdio server takes exactly one, as a second attacher would interleave writes into its stdin`);
      }
    }
    this.namespace = namespace;
    this.url = `http://${this.name}.${namespace}.svc:${PROXY_HTTP_PORT}`;
    const labels = standardLabels(server, 'proxy');
    const selector = selectorLabels(server, 'proxy');
    const metadata = { name: this.name, namespace, labels };

    const binding: ProxyObservabilityBinding | undefined = props.observability?.bindProxy({
      scope: this, serverName: server, namespace, selectorLabels: selector,
      metricsPortName: 'metrics', metricsPort: PROXY_METRICS_PORT,
    });
    const telemetry = binding?.telemetry ?? props.telemetry?.config;

    this.config = {
      server,
      backend: transport.isHttp
        ? { type: 'http', url: props.serverUrl ?? `http://${server}.${serverNamespace}.svc:${transport.port}${transport.path}`, transport: transport.name as 'streamable-http' | 'sse' }
        : { type: 'attach', namespace: serverNamespace, pod: podName, container: 'mcp' },
      listen: { host: '0.0.0.0', port: PROXY_HTTP_PORT, metricsPort: PROXY_METRICS_PORT },
      ...(props.limits ? { limits: props.limits } : {}),
      security: {
        allowedOrigins: [...(props.allowedOrigins ?? [])],
        // Setting the list replaces the proxy's defaults, so they are repeated here, then the short
        // names in-namespace clients use and the exposure's hosts.
        allowedHosts: [...new Set([
          ...DEFAULT_ALLOWED_HOSTS,
          this.name, `${this.name}.${namespace}`,
          ...(props.exposure?.hostnames ?? []), ...(props.extraAllowedHosts ?? []),
        ])],
      },
      ...(telemetry ? { telemetry } : {}),
      logging: { level: props.logLevel ?? 'info' },
    };
    // The proxy's own validator, at synth time: a configuration the proxy would refuse fails
    // `npm run synth` instead of a crash-looping pod.
    try {
      validateProxyConfig(this.config);
    } catch (e) {
      throw new McpInputError(server, `the proxy configuration is invalid: ${(e as Error).message}`);
    }
    const configJson = `${JSON.stringify(this.config, null, 2)}\n`;

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata,
      // Only the attach backend talks to the API server; an HTTP backend needs no token at all.
      automountServiceAccountToken: !transport.isHttp,
    });
    this.configMap = new k8s.KubeConfigMap(this, 'ConfigMap', { metadata, data: { 'config.json': configJson } });
    this.rbac = transport.isHttp ? { roleBindings: [] } : createProxyRbac(this, {
      baseName: this.name, namespace, serverNamespace, serviceAccountName: this.name,
      podNames: [podName], labels, scope: rbacScope,
    });

    this.service = new k8s.KubeService(this, 'Service', {
      metadata,
      spec: {
        type: 'ClusterIP',
        selector: selector,
        ports: [
          { name: 'http', port: PROXY_HTTP_PORT, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP', appProtocol: 'http' },
          { name: 'metrics', port: PROXY_METRICS_PORT, targetPort: k8s.IntOrString.fromString('metrics'), protocol: 'TCP' },
        ],
      },
    });

    const security = hardenedSecurity(server, {});
    const template: k8s.PodTemplateSpec = {
      metadata: {
        labels,
        // A changed configuration changes the pod template, so the Deployment rolls.
        annotations: { 'toolhive-cdk8s.dev/config-sha256': createHash('sha256').update(configJson).digest('hex') },
      },
      spec: {
        ...hardenedPodSpecDefaults(security),
        serviceAccountName: this.name,
        automountServiceAccountToken: !transport.isHttp,
        terminationGracePeriodSeconds: 30,
        containers: [{
          name: 'proxy',
          image,
          imagePullPolicy: IMAGE_PULL_POLICY,
          args: ['--config', `${CONFIG_DIR}/config.json`],
          ...(telemetry ? { env: telemetryResourceEnv() } : {}),
          ports: [
            { name: 'http', containerPort: PROXY_HTTP_PORT, protocol: 'TCP' },
            { name: 'metrics', containerPort: PROXY_METRICS_PORT, protocol: 'TCP' },
          ],
          livenessProbe: { httpGet: { path: '/healthz', port: k8s.IntOrString.fromString('http') }, periodSeconds: 10, failureThreshold: 3 },
          readinessProbe: { httpGet: { path: '/readyz', port: k8s.IntOrString.fromString('http') }, periodSeconds: 5, failureThreshold: 2 },
          resources: resourceRequirements(server, 'proxy.resources', props.resources, {
            cpuRequest: '50m', cpuLimit: '500m', memoryRequest: '128Mi', memoryLimit: '384Mi',
          }),
          securityContext: security.container,
          volumeMounts: [{ name: 'config', mountPath: CONFIG_DIR, readOnly: true }, TMP_MOUNT],
        }],
        volumes: [{ name: 'config', configMap: { name: this.name } }, TMP_VOLUME],
        ...props.podSpecOverrides,
      },
    };
    warnIfNotRestricted(server, 'proxy.podSpecOverrides', template, props.podSpecOverrides);
    if (template.spec?.serviceAccountName !== this.name) {
      warn(server, `proxy.podSpecOverrides.serviceAccountName is "${template.spec?.serviceAccountName}": the proxy runs as that account, not "${this.name}" which the synthesized RBAC is bound to, and gets whatever that account is granted${transport.isHttp ? '' : ' (and cannot attach unless it may)'}`);
    }
    this.deployment = new k8s.KubeDeployment(this, 'Deployment', {
      metadata,
      spec: {
        replicas,
        selector: { matchLabels: selector },
        // Recreate for stdio: a rolling update would run the old and the new proxy side by side,
        // two attachers writing into one stdin.
        strategy: transport.isHttp ? { type: 'RollingUpdate' } : { type: 'Recreate' },
        template,
      },
    });

    const policies = createProxyNetworkPolicies(this, {
      server, name: this.name, namespace, labels, selector, transport, serverNamespace,
      serverPodLabels: props.serverPodLabels ?? selectorLabels(server, 'mcp-server'),
      monitoringNamespace: props.monitoringNamespace ?? 'monitoring',
      clientNamespaces: props.clientNamespaces, exposure: props.exposure,
      apiServerCidrs,
      metricsScrapers: binding?.metricsScrapers ?? [],
      telemetryEgress: binding?.telemetryEgress ?? props.telemetry?.egress ?? [],
    });
    this.ingressPolicy = policies.ingress;
    this.egressPolicy = policies.egress;
    this.exposureObject = props.exposure
      ? createProxyExposure(this, { server, name: this.name, namespace, labels, exposure: props.exposure })
      : undefined;
  }
}

/**
 * The pod's identity for the proxy's OpenTelemetry resource (`OTEL_RESOURCE_ATTRIBUTES`, which the
 * proxy reads): its telemetry carries its namespace and pod even where the collector's k8sattributes
 * cannot tell which pod sent it, and k8sattributes can associate it by UID where it can.
 * Kubernetes expands `$(VAR)` from variables defined earlier in the list.
 */
function telemetryResourceEnv(): k8s.EnvVar[] {
  const field = (name: string, fieldPath: string): k8s.EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  return [
    field('POD_NAME', 'metadata.name'),
    field('POD_NAMESPACE', 'metadata.namespace'),
    field('POD_UID', 'metadata.uid'),
    { name: 'OTEL_RESOURCE_ATTRIBUTES', value: 'k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.uid=$(POD_UID)' },
  ];
}

/**
 * The proxy answers 403 to a `Host` it does not know (DNS-rebinding protection), so an exposure
 * must name the hosts clients use: an HTTPRoute without `hostnames` would route every request of
 * the listener to a proxy that refuses them all.
 */
function checkExposure(server: string, exposure: Exposure | undefined, extraAllowedHosts: readonly string[] | undefined): void {
  if (exposure?.ingress) checkHostname(server, 'exposure host', exposure.ingress.host);
  const route = exposure?.httpRoute;
  if (!route) return;
  if (route.hostnames === undefined) {
    if ((extraAllowedHosts ?? []).length === 0) {
      throw new McpInputError(server, 'exposure HTTPRoute has no hostnames: the proxy accepts only the Host names it is told (DNS-rebinding protection) and would answer 403 to every request through the Gateway; set hostnames, or list the listener\'s host names in proxy.extraAllowedHosts');
    }
    return;
  }
  checkNonEmpty(server, 'exposure hostnames', route.hostnames, 'list the host names clients use, or leave hostnames unset and list them in proxy.extraAllowedHosts');
  route.hostnames.forEach((host) => checkHostname(server, 'exposure hostname', host));
}
