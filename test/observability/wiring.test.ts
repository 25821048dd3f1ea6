/**
 * The real McpServer wired to the stack with nothing but `observability: stack`: its proxy's
 * configuration, NetworkPolicies and monitor, and the stack's side of the same connection.
 */
import { describe, expect, test } from '@jest/globals';
import { Chart } from 'cdk8s';
import { McpServer } from '../../lib/mcp-server.ts';
import { ObservabilityArchitecture, ObservabilityStack } from '../../lib/observability-stack.ts';
import { byKind, one, synthStack, type Manifest } from './_support.ts';

function proxyConfig(objects: readonly Manifest[], server: string): any {
  return JSON.parse(one(objects, 'ConfigMap', `mcp-${server}-proxy`).data!['config.json']!);
}

/** Ports a policy rule opens to a peer whose pods carry `labels` in `namespace`. */
function portsFor(rules: any[], direction: 'from' | 'to', namespace: string, labels: Record<string, string>): number[] {
  return rules.filter((r) => (r[direction] ?? []).some((p: any) =>
    p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === namespace
    && Object.entries(labels).every(([k, v]) => p.podSelector?.matchLabels?.[k] === v)))
    .flatMap((r) => (r.ports ?? []).map((p: any) => p.port));
}

describe.each([
  { architecture: ObservabilityArchitecture.collectorScrape(), metrics: true, monitor: false },
  { architecture: ObservabilityArchitecture.collectorRemoteWrite(), metrics: true, monitor: false },
  { architecture: ObservabilityArchitecture.directScrape(), metrics: false, monitor: true },
  { architecture: ObservabilityArchitecture.hybrid(), metrics: true, monitor: true },
])('McpServer with observability: stack ($architecture.name)', ({ architecture, metrics, monitor }) => {
  // GIVEN a stack and a server in another chart and namespace
  const { app, stack, objects: stackObjects } = synthStack({ architecture });
  const servers = new Chart(app, 'servers', { namespace: 'mcp-servers' });
  // WHEN
  new McpServer(servers, 'fetch', { image: 'docker.io/mcp/fetch:2025.4.7', observability: stack });
  const out = servers.toJson() as Manifest[];

  test('the proxy exports to the collector with its server name, the signals of the architecture', () => {
    expect(proxyConfig(out, 'fetch').telemetry).toEqual({
      serviceName: 'fetch',
      otlp: { endpoint: stack.otlpEndpoint, traces: true, metrics, samplingRatio: 1 },
    });
  });

  test('the proxy may send OTLP/HTTP to the collector pods, and the collector admits exactly that proxy', () => {
    const egress = one(out, 'NetworkPolicy', 'mcp-fetch-proxy-egress').spec.egress;
    expect(portsFor(egress, 'to', 'monitoring', { 'app.kubernetes.io/name': 'opentelemetry-collector' })).toEqual([4318]);
    const proxyLabels = one(out, 'Deployment', 'mcp-fetch-proxy').spec.selector.matchLabels;
    const collectorIngress = one(stackObjects(), 'NetworkPolicy', 'otel-collector-ingress').spec.ingress;
    expect(portsFor(collectorIngress, 'from', 'mcp-servers', proxyLabels)).toEqual([4317, 4318]);
  });

  test(`Prometheus ${monitor ? 'scrapes the proxy through a monitor in its namespace' : 'does not scrape the proxy'}`, () => {
    const monitors = byKind(out, 'ServiceMonitor');
    expect(monitors).toHaveLength(monitor ? 1 : 0);
    const ingress = one(out, 'NetworkPolicy', 'mcp-fetch-proxy-ingress').spec.ingress;
    const prometheus = { 'app.kubernetes.io/name': 'prometheus' };
    expect(portsFor(ingress, 'from', 'monitoring', prometheus)).toEqual(monitor ? [9464] : []);
    if (!monitor) return;
    const service = one(out, 'Service', 'mcp-fetch-proxy');
    const m = monitors[0]!;
    expect(m.metadata.namespace).toBe('mcp-servers');
    // The monitor's selector matches the Service, and its port name is one the Service has.
    expect(Object.entries(m.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels?.[k] === v)).toBe(true);
    expect(service.spec.ports.map((p: any) => p.name)).toContain(m.spec.endpoints[0].port);
    expect(stack.customResources.map((o) => o.name)).toContain('mcp-fetch-proxy');
    expect(ObservabilityStack.needsCrd(stack.customResources.find((o) => o.kind === 'ServiceMonitor')!)).toBe(true);
  });
});
