/** The proxy's NetworkPolicies and its optional exposure (Ingress or Gateway API HTTPRoute). */
import type { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { HttpRoute, HttpRouteSpecRulesMatchesPathType } from '../imports/gateway-gateway.networking.k8s.io.ts';
import { dnsEgressRule, namespaceSelector, peerRule, tcpPorts } from './_network-policy.ts';
import { checkNamespaceName } from './_validation.ts';
import type { Exposure } from './exposure.ts';
import type { McpTransport } from './mcp-transport.ts';
import type { TelemetryPeer } from './observability-binding.ts';

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

export function createProxyNetworkPolicies(scope: Construct, input: ProxyNetworkInput): { ingress: k8s.KubeNetworkPolicy; egress: k8s.KubeNetworkPolicy } {
  checkNamespaceName(input.server, 'proxy.monitoringNamespace', input.monitoringNamespace);
  const controller = input.exposure?.controllerNamespace;
  const clientNamespaces = [...(input.clientNamespaces ?? []), ...(controller ? [controller] : [])];
  clientNamespaces.forEach((ns) => checkNamespaceName(input.server, 'proxy.clientNamespaces', ns));
  // No list at all means "the cluster": an empty namespaceSelector matches every namespace.
  const clients: k8s.NetworkPolicyPeer[] = clientNamespaces.length === 0
    ? [{ namespaceSelector: {} }]
    : [...new Set(clientNamespaces)].map((ns) => ({ namespaceSelector: namespaceSelector(ns) }));

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

  const egressRules: k8s.NetworkPolicyEgressRule[] = [dnsEgressRule()];
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
