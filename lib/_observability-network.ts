/**
 * NetworkPolicies that let telemetry reach the monitoring namespace. Each one selects a receiver and
 * lists who may talk to it; they only add allowances, so they work with or without a default-deny
 * policy in place, but selecting a pod with an ingress policy isolates it: everything a receiver
 * legitimately gets (Grafana's queries too) is therefore listed here.
 *
 * The proxies' side (egress to the collector, Prometheus into the metrics port) is the proxy's own
 * NetworkPolicy, built from the peers that `bindProxy` returns.
 */
import { ApiObject, Lazy } from 'cdk8s';
import type { Construct } from 'constructs';
import type { TelemetryPeer } from './observability-binding.ts';
import { PORTS, POD_LABELS, stackLabels } from './_observability-names.ts';
import { collectorExportsPrometheus, type StackSettings } from './_observability-values.ts';

interface Peer {
  readonly namespace: string;
  readonly podLabels?: Readonly<Record<string, string>>;
}

/** A NetworkPolicy peer: pods by labels in a namespace named so (the label every namespace carries since 1.22). */
export function peer(p: Peer): Record<string, unknown> {
  return {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': p.namespace } },
    ...(p.podLabels ? { podSelector: { matchLabels: { ...p.podLabels } } } : {}),
  };
}

const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));

function ingressPolicy(scope: Construct, id: string, name: string, namespace: string, podLabels: Readonly<Record<string, string>>,
  ingress: unknown): ApiObject {
  return new ApiObject(scope, id, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, labels: stackLabels('network-policy') },
    spec: { podSelector: { matchLabels: { ...podLabels } }, policyTypes: ['Ingress'], ingress },
  });
}

/**
 * Creates the policies. `otlpSenders` is read at synthesis time: proxies bound after the stack was
 * constructed (the usual order) are still allowed in.
 */
export function telemetryNetworkPolicies(scope: Construct, s: StackSettings, otlpSenders: () => readonly TelemetryPeer[]): ApiObject[] {
  const ns = s.namespace;
  const prometheus = peer({ namespace: ns, podLabels: POD_LABELS.prometheus });
  const grafana = peer({ namespace: ns, podLabels: POD_LABELS.grafana });
  const collector = peer({ namespace: ns, podLabels: POD_LABELS.collector });
  const policies: ApiObject[] = [];

  policies.push(ingressPolicy(scope, 'CollectorIngress', 'otel-collector-ingress', ns, POD_LABELS.collector, Lazy.any({
    produce: () => {
      const rules: unknown[] = [];
      const senders = otlpSenders();
      if (senders.length > 0) rules.push({ from: senders.map((p) => peer(p)), ports: tcp(PORTS.otlpGrpc, PORTS.otlpHttp) });
      if (collectorExportsPrometheus(s)) rules.push({ from: [prometheus], ports: tcp(PORTS.collectorPrometheus) });
      return rules;
    },
  })));

  if (s.jaeger) {
    policies.push(ingressPolicy(scope, 'JaegerIngress', 'jaeger-ingress', ns, POD_LABELS.jaeger, [
      { from: [collector], ports: tcp(PORTS.otlpGrpc, PORTS.otlpHttp) },
      // Grafana's Jaeger data source queries through the Grafana backend.
      { from: [grafana], ports: tcp(PORTS.jaegerQuery) },
    ]));
  }

  if (s.remoteWrite) {
    // Only in remote-write mode does anything but Grafana need Prometheus; without a policy it stays open as installed.
    policies.push(ingressPolicy(scope, 'PrometheusIngress', 'prometheus-ingress', ns, POD_LABELS.prometheus, [
      { from: [collector], ports: tcp(PORTS.prometheus) },
      { from: [grafana], ports: tcp(PORTS.prometheus) },
      // Prometheus scrapes itself and its config-reloader sidecar, on more than one port.
      { from: [prometheus] },
    ]));
  }
  return policies;
}
