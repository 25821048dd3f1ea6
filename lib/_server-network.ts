/** The MCP server's NetworkPolicies: nobody gets in but its proxy; out goes only what the profile allows. */
import { k8s } from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { dnsEgressRule, internetEgressRule, neverReachableContaining, privateRangesInside, publicEgressRule, tcpPorts } from './_network-policy.ts';
import { checkCidr, checkNonEmpty, checkPort, McpInputError } from './_validation.ts';
import { warn } from './_warnings.ts';
import type { McpTransport } from './mcp-transport.ts';
import { type PermissionProfile } from './permission-profile.ts';

export interface ServerNetworkInput {
  readonly server: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly selector: Record<string, string>;
  readonly transport: McpTransport;
  readonly profile: PermissionProfile;
  /** Labels of the server's own proxy pods; undefined when it has none. */
  readonly proxyPodLabels: Record<string, string> | undefined;
}

export function createServerNetworkPolicies(scope: Construct, input: ServerNetworkInput): { ingress: k8s.KubeNetworkPolicy; egress: k8s.KubeNetworkPolicy } {
  const { server, profile } = input;
  // stdio servers are reached through the API server (pods/attach), never over the pod network.
  const ingressRules: k8s.NetworkPolicyIngressRule[] = input.transport.isHttp && input.proxyPodLabels
    ? [{ from: [{ podSelector: { matchLabels: input.proxyPodLabels } }], ports: tcpPorts([input.transport.port!]) }]
    : [];
  const ingress = new k8s.KubeNetworkPolicy(scope, 'IngressPolicy', {
    metadata: { name: `${server}-ingress`, namespace: input.namespace, labels: input.labels },
    spec: { podSelector: { matchLabels: input.selector }, policyTypes: ['Ingress'], ingress: ingressRules },
  });

  let egressRules: k8s.NetworkPolicyEgressRule[];
  switch (profile.kind) {
    case 'none':
      egressRules = [];
      break;
    case 'internet':
      for (const cidr of profile.exceptCidrs) {
        checkCidr(server, 'permissionProfile internet exceptCidrs', cidr);
        if (/\/0$/.test(cidr)) throw new McpInputError(server, `permissionProfile internet exceptCidrs "${cidr}" excludes every address of its family: use PermissionProfile.none() for no egress`);
      }
      egressRules = [dnsEgressRule(scope), publicEgressRule(profile.exceptCidrs)];
      break;
    case 'network':
      warn(server, 'permissionProfile network() lets the server reach addresses inside the cluster too (other pods, Services, nodes, the API server): use PermissionProfile.internet() for a server that needs only public destinations, or an allow list');
      egressRules = [dnsEgressRule(scope), internetEgressRule(undefined, [])];
      break;
    case 'allow-list':
      checkNonEmpty(server, 'permissionProfile allowList cidrs', profile.cidrs, 'list the destinations, or use PermissionProfile.none() for no egress');
      checkNonEmpty(server, 'permissionProfile allowList ports', profile.ports, 'list the TCP ports, e.g. [443]');
      for (const cidr of profile.cidrs) {
        checkCidr(server, 'permissionProfile allowList cidr', cidr);
        const blocked = neverReachableContaining(cidr);
        if (blocked) {
          throw new McpInputError(server, `permissionProfile allowList cidr "${cidr}" lies in ${blocked} (link-local or cloud metadata addresses, where node credentials live), which is never reachable from MCP servers: remove it`);
        }
        const inCluster = privateRangesInside(cidr);
        if (inCluster.length > 0) {
          warn(server, `permissionProfile allowList cidr "${cidr}" covers ${inCluster.join(', ')}, where clusters put pods, Services and nodes: the server can reach in-cluster addresses on the allowed ports; list narrower destinations, or use PermissionProfile.internet() for public ones`);
        }
      }
      profile.ports.forEach((port) => checkPort(server, 'permissionProfile allowList port', port));
      egressRules = [dnsEgressRule(scope), internetEgressRule(profile.cidrs, profile.ports)];
      break;
  }
  const egress = new k8s.KubeNetworkPolicy(scope, 'EgressPolicy', {
    metadata: { name: `${server}-egress`, namespace: input.namespace, labels: input.labels },
    spec: { podSelector: { matchLabels: input.selector }, policyTypes: ['Egress'], egress: egressRules },
  });
  return { ingress, egress };
}
