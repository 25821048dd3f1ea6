/** Building blocks of the NetworkPolicies of MCP servers and proxies. */
import { k8s } from 'cdk8s-plus-28';
import type { TelemetryPeer } from './observability-binding.ts';
import { CLOUD_METADATA_CIDR, CLOUD_METADATA_CIDR_V6 } from './permission-profile.ts';

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
  const blocks = (cidrs ?? ['0.0.0.0/0', '::/0']).map((cidr) => {
    const metadata = metadataInside(cidr);
    return { ipBlock: metadata ? { cidr, except: [metadata] } : { cidr } };
  });
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

/**
 * The metadata CIDR that `cidr` contains (so the rule needs it as an `except`), if any. A /32 or
 * /128 is a single host: either the metadata address itself (refused earlier) or another one.
 */
export function metadataInside(cidr: string): string | undefined {
  const [address, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!address) return undefined;
  if (address.includes(':')) {
    if (bits >= 128) return undefined;
    return sameNetwork(ipv6ToBigInt(address), ipv6ToBigInt(CLOUD_METADATA_CIDR_V6.split('/')[0]!), bits, 128) ? CLOUD_METADATA_CIDR_V6 : undefined;
  }
  if (bits >= 32) return undefined;
  return sameNetwork(ipv4ToBigInt(address), ipv4ToBigInt(CLOUD_METADATA_CIDR.split('/')[0]!), bits, 32) ? CLOUD_METADATA_CIDR : undefined;
}

/** Whether `cidr` (or a bare address) is exactly a cloud metadata endpoint. */
export function isMetadataAddress(cidr: string): boolean {
  const [address, bitsText] = cidr.split('/');
  if (!address) return false;
  const v6 = address.includes(':');
  const width = v6 ? 128 : 32;
  if (bitsText !== undefined && Number(bitsText) !== width) return false;
  const metadata = (v6 ? CLOUD_METADATA_CIDR_V6 : CLOUD_METADATA_CIDR).split('/')[0]!;
  return v6 ? ipv6ToBigInt(address) === ipv6ToBigInt(metadata) : ipv4ToBigInt(address) === ipv4ToBigInt(metadata);
}

function sameNetwork(a: bigint, b: bigint, bits: number, width: number): boolean {
  const shift = BigInt(width - bits);
  return (a >> shift) === (b >> shift);
}

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) + BigInt(Number(octet)), 0n);
}

/** Parses a (validated) IPv6 address, `::` shorthand included. */
function ipv6ToBigInt(address: string): bigint {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, group) => (acc << 16n) + BigInt(parseInt(group, 16)), 0n);
}
