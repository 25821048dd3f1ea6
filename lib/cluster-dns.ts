/**
 * Where pods send DNS, when the NetworkPolicies' defaults do not cover it.
 *
 * Every egress NetworkPolicy this library writes admits DNS (port 53) to the kube-dns / CoreDNS pods
 * and to NodeLocal DNSCache's link-local 169.254.20.10. NodeLocal DNSCache in iptables mode is the
 * exception: pods keep sending DNS to the kube-dns Service's ClusterIP, and the node-local cache
 * answers on that address itself (its NOTRACK rules skip the DNAT to a CoreDNS pod), so neither
 * peer matches and name resolution fails. Name the Service's ClusterIPs once per app, and every
 * McpServer and ToolHiveProxy egress policy also admits them, on port 53 only.
 */
import { isIP } from 'node:net';
import type { Construct } from 'constructs';

/** The context key `useClusterDnsServiceIPs` sets: a list of IP addresses. */
export const DNS_SERVICE_IPS_CONTEXT = 'toolhive-cdk8s/dnsServiceIPs';

/**
 * Admits DNS to the kube-dns Service's ClusterIPs (`kubectl -n kube-system get svc kube-dns -o
 * jsonpath='{.spec.clusterIPs}'`) in every egress policy under `app`. Call it on the App before
 * adding charts (construct context cannot change once a scope has children).
 */
export function useClusterDnsServiceIPs(app: Construct, ips: readonly string[]): void {
  app.node.setContext(DNS_SERVICE_IPS_CONTEXT, checkDnsServiceIPs([...ips]));
}

/** The ClusterIPs set for `scope` (none by default), checked wherever they came from. */
export function dnsServiceIPs(scope: Construct): readonly string[] {
  const value: unknown = scope.node.tryGetContext(DNS_SERVICE_IPS_CONTEXT);
  return value === undefined ? [] : checkDnsServiceIPs(value);
}

function checkDnsServiceIPs(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((ip) => typeof ip !== 'string' || isIP(ip) === 0)) {
    throw new Error(
      `context "${DNS_SERVICE_IPS_CONTEXT}" must be a non-empty list of IP addresses, the kube-dns Service's ClusterIPs ` +
      `(e.g. ["10.96.0.10"]); got ${JSON.stringify(value)}`,
    );
  }
  return value as string[];
}
