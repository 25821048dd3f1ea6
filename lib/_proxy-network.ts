/** The proxy's NetworkPolicies and its optional exposure (Ingress or Gateway API HTTPRoute). */
import type { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { HttpRoute, HttpRouteSpecRulesMatchesPathType } from '../imports/gateway-gateway.networking.k8s.io.ts';
import { dnsEgressRule, namespaceSelector, peerRule, tcpPorts } from './_network-policy.ts';
import { MCP_SERVER_APP_NAME } from './_metadata.ts';
import { checkNamespaceName, McpInputError } from './_validation.ts';
import { warn } from './_warnings.ts';
import type { Exposure } from './exposure.ts';
import type { McpTransport } from './mcp-transport.ts';
import type { TelemetryPeer } from './observability-binding.ts';

/** `proxy.clientNamespaces: ["*"]`: every namespace may reach the proxy (a warning at synth). */
export const EVERY_NAMESPACE = '*';

const HTTP_PORT = 8080;
const METRICS_PORT = 9464;

export interface ProxyNetworkInput {
  readonly server: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly selector: Record<string, string>;
  readonly transport: McpTransport;
  readonly serverNamespace: string;
  readonly serverPodLabels: Readonly<Record<string, string>>;
  readonly monitoringNamespace: string;
  readonly clientNamespaces: readonly string[] | undefined;
  readonly exposure: Exposure | undefined;
  readonly apiServerCidrs: readonly string[];
  readonly metricsScrapers: readonly TelemetryPeer[];
  readonly telemetryEgress: readonly TelemetryPeer[];
}

/** Who may reach 8080: `clientNamespaces` (by default the proxy's own) and the exposure's controller. */
function clientPeers(input: ProxyNetworkInput): k8s.NetworkPolicyPeer[] {
  const listed = input.clientNamespaces ?? [input.namespace];
  if (listed.includes(EVERY_NAMESPACE)) {
    if (listed.length > 1) {
      throw new McpInputError(input.server, `proxy.clientNamespaces [${listed.join(', ')}]: "${EVERY_NAMESPACE}" (every namespace) stands alone`);
    }
    warn(input.server, `proxy.clientNamespaces ["${EVERY_NAMESPACE}"]: pods in every namespace may call this server's tools on port 8080`);
    // An empty namespaceSelector matches every namespace.
    return [{ namespaceSelector: {}, podSelector: NOT_MCP_SERVERS }];
  }
  const exposure = input.exposure;
  if (exposure && !exposure.controllerNamespace) {
    throw new McpInputError(input.server, 'exposure has no controllerNamespace: name the namespace of the ingress controller or gateway pods, so that only they (and proxy.clientNamespaces) reach port 8080; or set proxy.clientNamespaces ["*"] to admit every namespace');
  }
  const controller = exposure?.controllerNamespace;
  if (listed.length === 0 && !controller) {
    throw new McpInputError(input.server, 'proxy.clientNamespaces is an empty list: no pod could reach the proxy; list namespaces, or leave it out for the proxy\'s own namespace');
  }
  [...listed, ...(controller ? [controller] : [])].forEach((ns) => checkNamespaceName(input.server, 'proxy.clientNamespaces', ns));
  // The controller's pods forward clients from outside.
  return [...new Set([...listed, ...(controller ? [controller] : [])])]
    .map((ns) => ({ namespaceSelector: namespaceSelector(ns), podSelector: NOT_MCP_SERVERS }));
}

/**
 * Clients are any pods but MCP servers: a server that fetches URLs for a model (`network()`) must
 * not be able to call another server's tools through its proxy, even in the same namespace.
 */
const NOT_MCP_SERVERS: k8s.LabelSelector = {
  matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: [MCP_SERVER_APP_NAME] }],
};

export function createProxyNetworkPolicies(scope: Construct, input: ProxyNetworkInput): { ingress: k8s.KubeNetworkPolicy; egress: k8s.KubeNetworkPolicy } {
  checkNamespaceName(input.server, 'proxy.monitoringNamespace', input.monitoringNamespace);
  const clients = clientPeers(input);

  const scrapers = [{ namespace: input.monitoringNamespace } as TelemetryPeer, ...input.metricsScrapers].map(peerRule);
  const ingress = new k8s.KubeNetworkPolicy(scope, 'IngressPolicy', {
    metadata: { name: `${input.name}-ingress`, namespace: input.namespace, labels: input.labels },
    spec: {
      podSelector: { matchLabels: input.selector },
      policyTypes: ['Ingress'],
      ingress: [
        { from: clients, ports: tcpPorts([HTTP_PORT]) },
        // Scrapers reach the metrics port only, whatever ports a binding lists for its own peers.
        { from: scrapers.map((s) => s.peer), ports: tcpPorts([METRICS_PORT]) },
      ],
    },
  });

  const egressRules: k8s.NetworkPolicyEgressRule[] = [dnsEgressRule(scope)];
  if (input.transport.isHttp) {
    egressRules.push({
      to: [{ namespaceSelector: namespaceSelector(input.serverNamespace), podSelector: { matchLabels: { ...input.serverPodLabels } } }],
      ports: tcpPorts([input.transport.port!]),
    });
  } else {
    // The API server usually sits outside the pod network, so only an ipBlock can name it.
    egressRules.push({ to: input.apiServerCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: tcpPorts([443, 6443]) });
  }
  for (const peer of input.telemetryEgress) {
    const rule = peerRule(peer);
    egressRules.push({ to: [rule.peer], ports: rule.ports });
  }
  const egress = new k8s.KubeNetworkPolicy(scope, 'EgressPolicy', {
    metadata: { name: `${input.name}-egress`, namespace: input.namespace, labels: input.labels },
    spec: { podSelector: { matchLabels: input.selector }, policyTypes: ['Egress'], egress: egressRules },
  });
  return { ingress, egress };
}

export interface ProxyExposureInput {
  readonly server: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly exposure: Exposure;
}

export function createProxyExposure(scope: Construct, input: ProxyExposureInput): ApiObject {
  const metadata = { name: input.name, namespace: input.namespace, labels: input.labels };
  const ingress = input.exposure.ingress;
  if (ingress) {
    return new k8s.KubeIngress(scope, 'Ingress', {
      metadata,
      spec: {
        ingressClassName: ingress.className,
        tls: ingress.tlsSecretName ? [{ hosts: [ingress.host], secretName: ingress.tlsSecretName }] : undefined,
        rules: [{
          host: ingress.host,
          http: {
            paths: [{
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: input.name, port: { name: 'http' } } },
            }],
          },
        }],
      },
    });
  }
  const route = input.exposure.httpRoute!;
  return new HttpRoute(scope, 'HttpRoute', {
    metadata,
    spec: {
      parentRefs: [{ name: route.gatewayName, namespace: route.gatewayNamespace, sectionName: route.sectionName }],
      hostnames: route.hostnames ? [...route.hostnames] : undefined,
      rules: [{
        matches: [{ path: { type: HttpRouteSpecRulesMatchesPathType.PATH_PREFIX, value: '/' } }],
        backendRefs: [{ name: input.name, port: HTTP_PORT }],
      }],
    },
  });
}
