/**
 * Properties of every object the stack ships, in every architecture: schema-valid (kubernetes-models),
 * no field a CRD does not declare, explicit names and app.kubernetes.io labels, no namespace on
 * cluster-scoped kinds, and no secret material anywhere (objects, Helm values, values files).
 */
import { describe, expect, test } from '@jest/globals';
import { Application } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { MonitorKind, ObservabilityArchitecture, ObservabilityStack } from '../../lib/observability-stack.ts';
import { crdSchema, fakeProxy, keyPaths, stringLeaves, synthStack, unknownFields, type Manifest } from './_support.ts';

const MODELS: Record<string, { new (o: any): { validate(): void } }> = {
  Application, PodMonitor, PrometheusRule, ServiceMonitor, ConfigMap, Namespace, NetworkPolicy, Service,
};
const CRDS: Record<string, [file: string, version: string]> = {
  Application: ['argoproj.io_applications.yaml', 'v1alpha1'],
  PrometheusRule: ['monitoring.coreos.com_prometheusrules.yaml', 'v1'],
  ServiceMonitor: ['monitoring.coreos.com_servicemonitors.yaml', 'v1'],
  PodMonitor: ['monitoring.coreos.com_podmonitors.yaml', 'v1'],
};
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

const cases = [
  { architecture: ObservabilityArchitecture.collectorScrape(), monitorKind: MonitorKind.serviceMonitor() },
  { architecture: ObservabilityArchitecture.collectorRemoteWrite(), monitorKind: MonitorKind.serviceMonitor() },
  { architecture: ObservabilityArchitecture.directScrape(), monitorKind: MonitorKind.serviceMonitor() },
  { architecture: ObservabilityArchitecture.hybrid(), monitorKind: MonitorKind.podMonitor() },
];

/** The stack plus two bound proxies, so per-proxy monitors are part of "everything". */
function everything(props: (typeof cases)[number]): { stack: ObservabilityStack; objects: Manifest[] } {
  const s = synthStack(props);
  s.stack.bindProxy(fakeProxy(s.app, 'fetch', 'team-a').target);
  s.stack.bindProxy(fakeProxy(s.app, 'github', 'team-b').target);
  return { stack: s.stack, objects: s.all() };
}

/** Keys that name a secret, and values that look like one (a JWT, a PEM block, a long random token). */
const SECRET_KEY = /(password|passwd|secret|token|api_?key|private_?key|credentials?)$/i;
const SECRET_VALUE = [/^eyJ[A-Za-z0-9_-]{10,}\./, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, /^[A-Za-z0-9+/]{40,}={0,2}$/, /^(ghp|glpat|xox[bp]|sk)[-_][A-Za-z0-9]{16,}/];
/** Keys whose value is the name of a Secret or of a key in it: a reference, not the secret. */
const REFERENCE_KEYS = new Set(['existingSecret', 'passwordKey', 'userKey']);

function secretFindings(value: unknown): string[] {
  const byKey = keyPaths(value)
    .filter(({ key, value: v }) => SECRET_KEY.test(key) && !REFERENCE_KEYS.has(key) && v !== null && typeof v !== 'object' && v !== false)
    .map(({ path }) => `key ${path}`);
  const byValue = stringLeaves(value).filter(({ value: v }) => SECRET_VALUE.some((re) => re.test(v))).map(({ path }) => `value ${path}`);
  return [...byKey, ...byValue];
}

describe.each(cases)('every object of architecture $architecture.name', (props) => {
  const { stack, objects } = everything(props);

  test('is valid against its kubernetes-models schema', () => {
    for (const o of objects) {
      const Model = MODELS[o.kind];
      expect({ kind: o.kind, modelled: Model !== undefined }).toEqual({ kind: o.kind, modelled: true });
      expect(() => new Model!(o).validate()).not.toThrow();
    }
  });

  test('custom resources use no field their CRD schema does not declare', () => {
    const crs = objects.filter((o) => CRDS[o.kind]);
    expect(crs.length).toBeGreaterThanOrEqual(4);
    for (const o of crs) {
      const [file, version] = CRDS[o.kind]!;
      expect({ object: `${o.kind}/${o.metadata.name}`, unknown: unknownFields(o, crdSchema(file, version)) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, unknown: [] });
    }
  });

  test('has an explicit name and the app.kubernetes.io labels', () => {
    for (const o of objects) {
      expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      for (const label of ['app.kubernetes.io/name', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/component']) {
        expect({ object: `${o.kind}/${o.metadata.name}`, label, set: Boolean(o.metadata.labels?.[label]) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, label, set: true });
      }
    }
  });

  test('carries a namespace exactly when its kind is namespaced', () => {
    for (const o of objects) expect({ kind: o.kind, namespaced: o.metadata.namespace !== undefined }).toEqual({ kind: o.kind, namespaced: !CLUSTER_SCOPED.has(o.kind) });
  });

  test('contains no secret material, and neither do the Helm values and values files', () => {
    expect(secretFindings(objects)).toEqual([]);
    expect(secretFindings(stack.helmReleases())).toEqual([]);
    for (const file of stack.helmValuesFiles()) expect(file.content).not.toMatch(/adminPassword|prom-operator/);
  });

  test('lists exactly the CRD-backed objects as custom resources, and only those need a CRD', () => {
    const crdBacked = objects.filter((o) => /^(monitoring\.coreos\.com|argoproj\.io)\//.test(o.apiVersion)).map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(stack.customResources.map((o) => `${o.kind}/${o.name}`).sort()).toEqual(crdBacked);
    for (const o of stack.customResources) expect(ObservabilityStack.needsCrd(o)).toBe(true);
    expect(stack.dashboard.kind).toBe('ConfigMap');
    expect(ObservabilityStack.needsCrd(stack.dashboard)).toBe(false);
  });
});

describe('the secret scan itself', () => {
  test('finds a password value, a token-like string and a private key', () => {
    expect(secretFindings({ grafana: { adminPassword: 'hunter2' } })).toEqual(['key .grafana.adminPassword']);
    expect(secretFindings({ a: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x' })).toEqual(['value .a']);
    expect(secretFindings({ tls: { key: '-----BEGIN RSA PRIVATE KEY-----\nMIIE' } })).toEqual(['value .tls.key']);
    expect(secretFindings({ admin: { existingSecret: 'grafana-admin', passwordKey: 'admin-password' } })).toEqual([]);
  });
});

describe('unknown-field guard itself', () => {
  test('reports a misspelled field of a ServiceMonitor', () => {
    const schema = crdSchema('monitoring.coreos.com_servicemonitors.yaml', 'v1');
    expect(unknownFields({ spec: { selector: {}, endpoints: [{ port: 'metrics', intervall: '30s' }] } }, schema)).toEqual(['.spec.endpoints[0].intervall']);
  });
});
