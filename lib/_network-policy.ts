/** Building blocks of the NetworkPolicies of MCP servers and proxies. */
import { k8s } from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { isIPv6 } from 'node:net';
import { dnsServiceIPs } from './cluster-dns.ts';
import type { TelemetryPeer } from './observability-binding.ts';
import { NEVER_REACHABLE_CIDRS, PRIVATE_CIDRS } from './permission-profile.ts';

export function namespaceSelector(namespace: string): k8s.LabelSelector {
  // Set by the API server on every namespace since Kubernetes 1.21, so it cannot be forged by
  // whoever creates a namespace.
  return { matchLabels: { 'kubernetes.io/metadata.name': namespace } };
}

/** NodeLocal DNSCache's usual link-local address, where pods send DNS on clusters that run it. */
export const NODE_LOCAL_DNS_CIDR = '169.254.20.10/32';

/**
 * DNS to kube-dns / CoreDNS in kube-system (both keep the `k8s-app: kube-dns` label), to
 * NodeLocal DNSCache on its link-local address (port 53 only: the other link-local addresses stay
 * out of reach), and to the kube-dns Service's ClusterIPs when the app names them (cluster-dns.ts).
 */
export function dnsEgressRule(scope: Construct): k8s.NetworkPolicyEgressRule {
  return {
    to: [
      { namespaceSelector: namespaceSelector('kube-system'), podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
      { ipBlock: { cidr: NODE_LOCAL_DNS_CIDR } },
      ...dnsServiceIPs(scope).map((ip) => ({ ipBlock: { cidr: `${ip}/${isIPv6(ip) ? 128 : 32}` } })),
    ],
    ports: [
      { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
      { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
    ],
  };
}

/** Any IPv4 or IPv6 address except `NEVER_REACHABLE_CIDRS`, on the given TCP ports (all when empty). */
export function internetEgressRule(cidrs: readonly string[] | undefined, ports: readonly number[]): k8s.NetworkPolicyEgressRule {
  const blocks = (cidrs ?? ['0.0.0.0/0', '::/0']).map((cidr) => {
    const except = neverReachableInside(cidr);
    return { ipBlock: except.length > 0 ? { cidr, except } : { cidr } };
  });
  return {
    to: blocks,
    ports: ports.length === 0 ? undefined : tcpPorts(ports),
  };
}

/**
 * Public addresses only, on every port: IPv4 and IPv6 except `PRIVATE_CIDRS`, `NEVER_REACHABLE_CIDRS`
 * and `more`. A range inside another excluded one is left out of `except` (it adds nothing).
 */
export function publicEgressRule(more: readonly string[]): k8s.NetworkPolicyEgressRule {
  const excluded = [...PRIVATE_CIDRS, ...NEVER_REACHABLE_CIDRS, ...more].filter((cidr, i, all) => all.indexOf(cidr) === i);
  const parsed = excluded.map(parseCidr);
  // Dropped: a range inside another one (of two equal ranges, the later).
  const outermost = excluded.filter((_, i) => !parsed.some((other, j) => contains(other, parsed[i]!) && (!contains(parsed[i]!, other) || j < i)));
  return {
    to: ['0.0.0.0/0', '::/0'].map((cidr) => {
      const v6 = cidr.includes(':');
      return { ipBlock: { cidr, except: outermost.filter((blocked) => blocked.includes(':') === v6) } };
    }),
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

interface ParsedCidr {
  readonly v6: boolean;
  readonly bits: number;
  readonly value: bigint;
}

/** Parses a CIDR already checked by `checkCidr` (a bare address counts as a single host). */
function parseCidr(cidr: string): ParsedCidr {
  const [address = '', bitsText] = cidr.split('/');
  const v6 = address.includes(':');
  const width = v6 ? 128 : 32;
  return { v6, bits: bitsText === undefined ? width : Number(bitsText), value: v6 ? ipv6ToBigInt(address) : ipv4ToBigInt(address) };
}

/** Whether every address of `inner` is in `outer`. */
function contains(outer: ParsedCidr, inner: ParsedCidr): boolean {
  if (outer.v6 !== inner.v6 || outer.bits > inner.bits) return false;
  const shift = BigInt((outer.v6 ? 128 : 32) - outer.bits);
  return (outer.value >> shift) === (inner.value >> shift);
}

/** The never-reachable ranges that lie inside `cidr`, so its rule must list them as `except`. */
export function neverReachableInside(cidr: string): string[] {
  const rule = parseCidr(cidr);
  return NEVER_REACHABLE_CIDRS.filter((blocked) => {
    const parsed = parseCidr(blocked);
    return contains(rule, parsed) && !contains(parsed, rule);
  });
}

/** The in-cluster ranges (`PRIVATE_CIDRS`) that `cidr` covers whole: an allow list that wide reaches into the cluster. */
export function privateRangesInside(cidr: string): string[] {
  const rule = parseCidr(cidr);
  return PRIVATE_CIDRS.filter((range) => contains(rule, parseCidr(range)));
}

/** The never-reachable range that holds all of `cidr` (which can then not be allowed at all), if any. */
export function neverReachableContaining(cidr: string): string | undefined {
  const rule = parseCidr(cidr);
  return NEVER_REACHABLE_CIDRS.find((blocked) => contains(parseCidr(blocked), rule));
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
