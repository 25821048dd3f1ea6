/**
 * McpServer: one MCP server as a StatefulSet with no permissions and no way in except its proxy.
 *
 * Objects are built from the generated Kubernetes types (`k8s.Kube*`), not cdk8s-plus's L2
 * constructs: every field of these manifests is a security decision, and cdk8s-plus fills in its
 * own (pull policy Always, 2 replicas, default resources, no seccomp, hashed names for generated
 * policies) that we would otherwise have to find and undo one by one.
 */
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { claimObjectName, namespaceOf, selectorLabels, standardLabels } from './_metadata.ts';
import { createServerNetworkPolicies } from './_server-network.ts';
import { hardenedPodSpecDefaults, hardenedSecurity, IMAGE_PULL_POLICY, resourceRequirements, TMP_MOUNT, TMP_VOLUME, warnIfNotRestricted } from './_pod-security.ts';
import { checkAbsolutePath, checkDnsLabel, checkEnvName, checkImage, checkNamespaceName, checkPort, checkQuantity, checkServerName, McpInputError } from './_validation.ts';
import { warn } from './_warnings.ts';
import type { Exposure } from './exposure.ts';
import { McpTransport } from './mcp-transport.ts';
import type { IProxyObservability } from './observability-binding.ts';
import { PermissionProfile } from './permission-profile.ts';
import { ToolHiveProxy, type ProxyTelemetryOptions, type ToolHiveProxyOptions } from './toolhive-proxy.ts';
import type { ContainerResources, EnvFrom, McpVolume, SecurityContextOverrides } from './workload-inputs.ts';

/** Proxy settings of an McpServer. */
export interface McpServerProxyOptions extends ToolHiveProxyOptions {
  /**
   * Create the server's own ToolHiveProxy. Turn it off to front the server with a proxy you
   * construct yourself; the server then accepts no traffic until you open it.
   * @default true
   */
  readonly enabled?: boolean;
}

export interface McpServerProps {
  /** Container image of the MCP server, pinned by tag or digest (`:latest` only warns). */
  readonly image: string;
  /**
   * Name of the server: of its StatefulSet, Service, ServiceAccount and (as `mcp-<name>-proxy`) its proxy.
   * @default - the construct id
   */
  readonly name?: string;
  /**
   * Namespace of the server's objects.
   * @default - the chart's namespace
   */
  readonly namespace?: string;
  /**
   * How the server speaks MCP.
   * @default McpTransport.stdio()
   */
  readonly transport?: McpTransport;
  /**
   * Arguments appended to the image's entrypoint (container `args`).
   * @default - the image's own
   */
  readonly args?: readonly string[];
  /**
   * Plain environment variables. Never put secrets here: they end up in `dist/`, which is in git.
   * @default {HOME: "/tmp"} (`npx`/`uvx`-style servers need a writable home)
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Environment from existing Secrets and ConfigMaps, by reference (values never enter `dist/`).
   * @default []
   */
  readonly envFrom?: readonly EnvFrom[];
  /**
   * Volumes of the MCP container (ConfigMap, Secret, PVC, emptyDir); `/tmp` is always an emptyDir.
   * @default []
   */
  readonly volumes?: readonly McpVolume[];
  /**
   * CPU and memory of the MCP container.
   * @default {cpuRequest: "100m", cpuLimit: "1", memoryRequest: "128Mi", memoryLimit: "512Mi"}
   */
  readonly resources?: ContainerResources;
  /**
   * What the server may reach on the network (its egress NetworkPolicy).
   * @default PermissionProfile.none()
   */
  readonly permissionProfile?: PermissionProfile;
  /**
   * Pods of the server. Only Streamable HTTP can have more than one: a stdio server has exactly one
   * process, attached to by exactly one proxy, and an SSE session must stay on one pod. The proxy
   * does not pin a session to a pod, so more than one suits only a server without per-session
   * state; synth prints a warning.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Telemetry of the proxy given by hand (OTLP endpoint and where it lives).
   * @default - none
   */
  readonly telemetry?: ProxyTelemetryOptions;
  /**
   * Who observes the proxy (an ObservabilityStack, or your own implementation).
   * @default - none: `/metrics` is served on port 9464 and nothing is exported
   */
  readonly observability?: IProxyObservability;
  /**
   * Ingress or Gateway API HTTPRoute in front of the proxy.
   * @default - none: in-cluster clients and `kubectl port-forward` only
   */
  readonly exposure?: Exposure;
  /**
   * Overrides of the hardened security context (UID/GID, root opt-out, read-only root filesystem).
   * @default - UID/GID 65532, non-root, read-only root filesystem
   */
  readonly securityContext?: SecurityContextOverrides;
  /**
   * Escape hatch: fields merged over the generated pod spec of the MCP server (e.g. `nodeSelector`,
   * `tolerations`). A field given here replaces ours whole, hardening included.
   * @default {}
   */
  readonly podSpecOverrides?: Partial<k8s.PodSpec>;
  /**
   * The proxy in front of the server.
   * @default - a ToolHiveProxy with its defaults
   */
  readonly proxy?: McpServerProxyOptions;
  /**
   * Annotations of the server's ServiceAccount, for cloud workload identity (e.g.
   * `eks.amazonaws.com/role-arn`). The account still gets no Kubernetes API token.
   * @default {}
   */
  readonly serviceAccountAnnotations?: Readonly<Record<string, string>>;
}

export class McpServer extends Construct {
  public readonly name: string;
  public readonly namespace: string;
  public readonly transport: McpTransport;
  /** The StatefulSet running the container `mcp`. */
  public readonly workload: k8s.KubeStatefulSet;
  /** The headless Service of the StatefulSet (pod DNS names; the HTTP backend URL). */
  public readonly service: k8s.KubeService;
  public readonly serviceAccount: k8s.KubeServiceAccount;
  public readonly ingressPolicy: k8s.KubeNetworkPolicy;
  public readonly egressPolicy: k8s.KubeNetworkPolicy;
  /** The server's proxy, unless `proxy.enabled` is false. */
  public readonly proxy?: ToolHiveProxy;
  /** Labels selecting the server's pods. */
  public readonly selectorLabels: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: McpServerProps) {
    super(scope, id);
    const name = props.name ?? id;
    checkServerName(name);
    const namespace = namespaceOf(this, props.namespace);
    if (namespace === undefined) {
      throw new McpInputError(name, 'the server has no namespace: give the chart a namespace (new Chart(app, id, { namespace })) or set `namespace`');
    }
    checkNamespaceName(name, 'namespace', namespace);
    claimName(this, namespace, name);
    if (checkImage(name, 'image', props.image).isLatest) {
      warn(name, `image "${props.image}" uses the "latest" tag: pods restarted on different days run different code; pin a version`);
    }
    const transport = props.transport ?? McpTransport.stdio();
    if (transport.isHttp) {
      checkPort(name, 'transport port', transport.port!);
      if (!transport.path!.startsWith('/')) {
        throw new McpInputError(name, `transport path "${transport.path}" must start with "/", e.g. "/mcp"`);
      }
    }
    const replicas = props.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new McpInputError(name, `replicas ${replicas} is not a positive integer: use 1 or more`);
    }
    if (!transport.isHttp && replicas > 1) {
      throw new McpInputError(name, `replicas ${replicas} on a stdio server: stdio has one process per server and one attacher; use 1, or an HTTP transport (McpTransport.streamableHttp) to scale`);
    }
    if (transport.name === 'sse' && replicas > 1) {
      throw new McpInputError(name, `replicas ${replicas} on an SSE server: an SSE session's stream and its POSTs must reach the same pod, and the proxy reaches the pods through the headless Service without pinning a session to one; use 1, or Streamable HTTP`);
    }
    if (transport.name === 'streamable-http' && replicas > 1) {
      warn(name, `replicas ${replicas}: the proxy reaches the pods through the headless Service and does not pin an MCP session to one pod, so a session's requests land on any of them; run more than one only if the server keeps no per-session state`);
    }
    const volumes = props.volumes ?? [];
    const volumeNames = new Set(['tmp']);
    const mountPaths = new Set(['/tmp']);
    for (const volume of volumes) {
      checkDnsLabel(name, 'volume name', volume.name);
      checkAbsolutePath(name, `volume "${volume.name}" mountPath`, volume.mountPath);
      if (volumeNames.has(volume.name) || mountPaths.has(volume.mountPath)) {
        throw new McpInputError(name, `volume "${volume.name}" at "${volume.mountPath}" repeats a volume name or mount path ("tmp" at "/tmp" is always there): give each volume its own`);
      }
      volumeNames.add(volume.name);
      mountPaths.add(volume.mountPath);
      const sizeLimit = volume.source.emptyDir?.sizeLimit?.value;
      if (sizeLimit !== undefined) checkQuantity(name, `volume "${volume.name}" sizeLimit`, String(sizeLimit), '"256Mi" or "1Gi"');
    }
    for (const key of Object.keys(props.env ?? {})) checkEnvName(name, 'env', key);
    for (const e of props.envFrom ?? []) if (e.envName !== undefined) checkEnvName(name, 'envFrom envName', e.envName);

    this.name = name;
    this.namespace = namespace;
    this.transport = transport;
    const labels = standardLabels(name, 'mcp-server');
    const selector = selectorLabels(name, 'mcp-server');
    this.selectorLabels = selector;
    const metadata = { name, namespace, labels };

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { ...metadata, annotations: props.serviceAccountAnnotations ? { ...props.serviceAccountAnnotations } : undefined },
      automountServiceAccountToken: false,
    });
    this.service = new k8s.KubeService(this, 'Service', {
      metadata,
      spec: {
        clusterIp: 'None',
        selector,
        // stdio servers listen on nothing; the headless Service only gives the StatefulSet its pod DNS.
        ports: transport.isHttp ? [{ name: 'mcp', port: transport.port!, targetPort: k8s.IntOrString.fromString('mcp'), protocol: 'TCP' }] : undefined,
      },
    });

    const security = hardenedSecurity(name, props.securityContext);
    const env = { HOME: '/tmp', ...props.env };
    const envFrom = props.envFrom ?? [];
    const container: k8s.Container = {
      name: 'mcp',
      image: props.image,
      imagePullPolicy: IMAGE_PULL_POLICY,
      args: props.args ? [...props.args] : undefined,
      env: [
        ...Object.entries(env).map(([key, value]) => ({ name: key, value })),
        ...envFrom.filter((e) => e.envName !== undefined).map((e) => ({ name: e.envName!, valueFrom: e.valueFrom })),
      ],
      envFrom: envFrom.some((e) => e.source) ? envFrom.filter((e) => e.source).map((e) => e.source!) : undefined,
      // stdio: the proxy writes to stdin through pods/attach. stdinOnce must stay false, or the first
      // detach closes stdin and the server exits; no tty, or the stream gets line discipline applied.
      stdin: !transport.isHttp,
      stdinOnce: transport.isHttp ? undefined : false,
      tty: transport.isHttp ? undefined : false,
      ports: transport.isHttp ? [{ name: 'mcp', containerPort: transport.port!, protocol: 'TCP' }] : undefined,
      readinessProbe: transport.isHttp ? { tcpSocket: { port: k8s.IntOrString.fromString('mcp') }, periodSeconds: 10 } : undefined,
      resources: resourceRequirements(name, 'resources', props.resources, {
        cpuRequest: '100m', cpuLimit: '1', memoryRequest: '128Mi', memoryLimit: '512Mi',
      }),
      securityContext: security.container,
      volumeMounts: [TMP_MOUNT, ...volumes.map((v) => ({ name: v.name, mountPath: v.mountPath, readOnly: v.readOnly }))],
    };

    const template: k8s.PodTemplateSpec = {
      metadata: { labels },
      spec: {
        ...hardenedPodSpecDefaults(security),
        serviceAccountName: name,
        automountServiceAccountToken: false,
        // With a shared PID namespace the pause container is PID 1, so a Node or Python server
        // gets SIGTERM's default action and exits at once instead of waiting out the grace period.
        shareProcessNamespace: true,
        terminationGracePeriodSeconds: 10,
        containers: [container],
        volumes: [TMP_VOLUME, ...volumes.map((v) => ({ name: v.name, ...v.source }))],
        ...props.podSpecOverrides,
      },
    };
    warnIfNotRestricted(name, 'podSpecOverrides', template, props.podSpecOverrides);
    if (template.spec?.serviceAccountName !== name) {
      warn(name, `podSpecOverrides.serviceAccountName is "${template.spec?.serviceAccountName}": the MCP server runs as that account instead of its own permission-less one, and gets whatever it is granted (RBAC, or cloud IAM through workload identity)`);
    }
    if (template.spec?.automountServiceAccountToken !== false) {
      warn(name, 'podSpecOverrides.automountServiceAccountToken is not false: the MCP server gets a Kubernetes API token it has no use for');
    }
    this.workload = new k8s.KubeStatefulSet(this, 'Resource', {
      metadata,
      spec: {
        replicas,
        serviceName: name,
        selector: { matchLabels: selector },
        podManagementPolicy: 'Parallel',
        template,
      },
    });

    const proxyOptions = props.proxy ?? {};
    const proxyEnabled = proxyOptions.enabled ?? true;
    const policies = createServerNetworkPolicies(this, {
      server: name, namespace, labels, selector, transport,
      profile: props.permissionProfile ?? PermissionProfile.none(),
      proxyPodLabels: proxyEnabled ? selectorLabels(name, 'proxy') : undefined,
    });
    this.ingressPolicy = policies.ingress;
    this.egressPolicy = policies.egress;

    if (proxyEnabled) {
      const { enabled: _enabled, ...options } = proxyOptions;
      this.proxy = new ToolHiveProxy(this, 'Proxy', {
        ...options,
        serverName: name,
        namespace,
        transport,
        serverNamespace: namespace,
        serverPodName: `${name}-0`,
        serverPodLabels: selector,
        exposure: props.exposure,
        observability: props.observability,
        telemetry: props.telemetry,
      });
    } else if (props.exposure || props.observability || props.telemetry) {
      throw new McpInputError(name, '`exposure`, `observability` and `telemetry` apply to the proxy, but `proxy.enabled` is false: set them on your own ToolHiveProxy instead');
    }
  }
}

function claimName(scope: Construct, namespace: string, name: string): void {
  const holder = claimObjectName(scope, namespace, name, `the server "${name}"`);
  if (holder === `the server "${name}"`) {
    throw new McpInputError(name, `a server named "${name}" already exists in namespace "${namespace}": names must be unique per namespace; rename one (props.name) or move it to another namespace`);
  }
  if (holder !== undefined) {
    throw new McpInputError(name, `the name "${name}" is already used in namespace "${namespace}" by ${holder}, whose objects would be overwritten by this server's: rename the server (props.name)`);
  }
}
