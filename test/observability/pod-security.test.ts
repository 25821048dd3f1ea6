/**
 * The collector's and Jaeger's pods meet Pod Security "restricted" with the values we hand their charts.
 * No chart repository is reachable here, so each pod is assembled the way the chart's template places
 * these values (opentelemetry-collector `templates/_pod.tpl`: `podSecurityContext` on the pod,
 * `securityContext` on the collector container, host ports only when truthy; jaeger
 * `templates/jaeger/jaeger-deploy.yaml` and the 4.x `allinone-deploy.yaml`: `<layout>.podSecurityContext`
 * and `<layout>.securityContext`), then checked control by control.
 */
import { describe, expect, test } from '@jest/globals';
import { restrictedViolations } from '../../lib/_pod-security-restricted.ts';
import { CollectorMode, ObservabilityArchitecture } from '../../lib/observability-stack.ts';
import type { JaegerValues, ObservabilityStack, OpenTelemetryCollectorValues } from '../../lib/observability-stack.ts';
import { synthStack } from './_support.ts';

const release = <V>(stack: ObservabilityStack, name: string): V => {
  const found = stack.helmReleases().find((r) => r.releaseName === name);
  if (!found) throw new Error(`no release ${name}`);
  return found.values as V;
};

function collectorPod(v: OpenTelemetryCollectorValues): unknown {
  const ports = Object.entries(v.ports)
    .filter(([, p]) => p.enabled)
    .map(([name, p]) => ({ name, containerPort: p.containerPort, ...(p.hostPort ? { hostPort: p.hostPort } : {}) }));
  return {
    spec: {
      securityContext: v.podSecurityContext,
      containers: [{ name: 'opentelemetry-collector', command: [`/${v.command.name}`], securityContext: v.securityContext, ports }],
      volumes: [{ name: 'opentelemetry-collector-configmap', configMap: { name: v.fullnameOverride } }],
    },
  };
}

function jaegerPod(layout: JaegerValues['jaeger']): unknown {
  return {
    spec: {
      securityContext: layout.podSecurityContext,
      containers: [{ name: 'jaeger', securityContext: layout.securityContext }],
      volumes: [{ name: 'user-config', configMap: { name: 'user-config' } }],
    },
  };
}

describe.each([
  ['collector-scrape, daemonset', ObservabilityArchitecture.collectorScrape(), CollectorMode.daemonset()],
  ['collector-remote-write, deployment', ObservabilityArchitecture.collectorRemoteWrite(), CollectorMode.deployment({ replicas: 2 })],
  ['direct-scrape', ObservabilityArchitecture.directScrape(), CollectorMode.daemonset()],
  ['hybrid', ObservabilityArchitecture.hybrid(), CollectorMode.deployment()],
])('%s', (_name, architecture, collectorMode) => {
  const { stack } = synthStack({ architecture, collectorMode });

  test('the collector pod meets restricted, read-only root, as the image user', () => {
    const values = release<OpenTelemetryCollectorValues>(stack, 'otel-collector');
    expect(restrictedViolations(collectorPod(values))).toEqual([]);
    expect(values.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(values.podSecurityContext.runAsUser).toBe(10001);
  });

  test('the Jaeger pod meets restricted in both chart layouts', () => {
    const values = release<JaegerValues>(stack, 'jaeger');
    expect(restrictedViolations(jaegerPod(values.jaeger))).toEqual([]);
    expect(restrictedViolations(jaegerPod(values.allInOne))).toEqual([]);
  });
});

test('without our security contexts, the chart defaults would fail restricted (the check has teeth)', () => {
  const values = release<OpenTelemetryCollectorValues>(synthStack().stack, 'otel-collector');
  // The collector chart's defaults: `podSecurityContext: {}`, `securityContext: {}`.
  const defaults = { ...values, podSecurityContext: {}, securityContext: {} } as unknown as OpenTelemetryCollectorValues;
  const violations = restrictedViolations(collectorPod(defaults)).join('\n');
  expect(violations).toMatch(/Privilege Escalation/);
  expect(violations).toMatch(/Non-root/);
  expect(violations).toMatch(/Seccomp/);
  expect(violations).toMatch(/drop ALL/);
});
