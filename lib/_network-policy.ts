/** Building blocks of the NetworkPolicies of MCP servers and proxies. */
import { k8s } from 'cdk8s-plus-28';
import type { TelemetryPeer } from './observability-binding.ts';
import { CLOUD_METADATA_CIDR } from './permission-profile.ts';

export function namespaceSelector(namespace: string): k8s.LabelSelector {
  // Set by the API server on every namespace since Kubernetes 1.21, so it cannot be forged by
  // whoever creates a namespace.
  return { matchLabels: { 'kubernetes.io/metadata.name': namespace } };
}

/** DNS to kube-dns / CoreDNS in kube-system (both keep the `k8s-app: kube-dns` label). */
export function dnsEgressRule(): k8s.NetworkPolicyEgressRule {
  return {
    to: [{ namespaceSelector: namespaceSelector('kube-system'), podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
    ports: [
      { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
      { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
    ],
  };
}

/** Any IPv4 or IPv6 address except the cloud metadata endpoint, on the given TCP ports (all when empty). */
export function internetEgressRule(cidrs: readonly string[] | undefined, ports: readonly number[]): k8s.NetworkPolicyEgressRule {
  const blocks = (cidrs ?? ['0.0.0.0/0', '::/0']).map((cidr) => ({
    ipBlock: metadataInside(cidr) ? { cidr, except: [CLOUD_METADATA_CIDR] } : { cidr },
  }));
  return {
    to: blocks,
    ports: ports.length === 0 ? undefined : tcpPorts(ports),
  };
}

export function tcpPorts(ports: readonly number[]): k8s.NetworkPolicyPort[] {
  return ports.map((port) => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }));
}

/** A peer from the observability contract: pods of a namespace, optionally on given ports. */
export function peerRule(peer: TelemetryPeer): { peer: k8s.NetworkPolicyPeer; ports: k8s.NetworkPolicyPort[] | undefined } {
  return {
    peer: {
      namespaceSelector: namespaceSelector(peer.namespace),
      ...(peer.podLabels ? { podSelector: { matchLabels: { ...peer.podLabels } } } : {}),
    },
    ports: peer.ports && peer.ports.length > 0 ? tcpPorts(peer.ports) : undefined,
  };
}

/** Whether an IPv4 CIDR contains 169.254.169.254 (so it needs the `except`). */
function metadataInside(cidr: string): boolean {
  const [address, bitsText] = cidr.split('/');
  if (!address || address.includes(':')) {
    return false;
  }
  const bits = Number(bitsText);
  const toInt = (a: string) => a.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const metadata = toInt('169.254.169.254');
  if (bits === 32) {
    return false; // a /32 is either the metadata address (refused earlier) or another host
  }
  return ((toInt(address) & mask) >>> 0) === ((metadata & mask) >>> 0);
}
