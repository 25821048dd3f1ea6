/**
 * Properties that must hold for every object of the synthesized default app, not for one sample.
 */
import { describe, expect, test } from '@jest/globals';
import { BlockList, isIP } from 'node:net';
import { attachRules } from '../../lib/_proxy-rbac.ts';
import { CLUSTER_SCOPED_KINDS, defaultAppObjects, podTemplates } from './_load.ts';
import { restrictedViolations } from '../../lib/_pod-security-restricted.ts';
import { unknownFields, validateAgainstModel } from './_schema.ts';

const objects = defaultAppObjects();
const id = (o: { kind: string; metadata: { namespace?: string; name?: string } }) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;

describe('the default app', () => {
  test('synthesizes the servers of the scenario', () => {
    const sets = objects.filter((o) => o.kind === 'StatefulSet').map(id);
    expect(sets).toEqual(['StatefulSet mcp-servers/fetch', 'StatefulSet mcp-servers/gofetch', 'StatefulSet team-a/everything']);
  });

  test('every object is valid against its schema', async () => {
    const failures: string[] = [];
    for (const obj of objects) {
      await validateAgainstModel(obj).catch((e: Error) => failures.push(`${id(obj)}: ${e.message}`));
    }
    expect(failures).toEqual([]);
  });

  test('no object carries a field its schema does not define', () => {
    expect(unknownFields(objects)).toEqual([]);
  });

  test('every pod template meets each Pod Security restricted control', () => {
    const templates = podTemplates(objects);
    expect(templates.length).toBeGreaterThanOrEqual(6);
    const violations = templates.flatMap(({ owner, template }) => restrictedViolations(template).map((v) => `${id(owner)}: ${v}`));
    expect(violations).toEqual([]);
  });

  test('every container has requests, limits, a read-only root filesystem and IfNotPresent', () => {
    for (const { owner, template } of podTemplates(objects)) {
      for (const c of template.spec.containers) {
        const where = `${id(owner)} container ${c.name}`;
        expect([where, c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.cpu && c.resources?.limits?.memory]).toEqual([where, expect.any(String)]);
        expect([where, c.securityContext.readOnlyRootFilesystem, c.imagePullPolicy]).toEqual([where, true, 'IfNotPresent']);
      }
    }
  });

  test('no cluster-scoped object has a namespace, and every namespaced one names its own', () => {
    for (const obj of objects) {
      expect([id(obj), obj.metadata.namespace === undefined]).toEqual([id(obj), CLUSTER_SCOPED_KINDS.has(obj.kind)]);
    }
  });

  test('every object has an explicit name and the app.kubernetes.io labels', () => {
    for (const obj of objects) {
      // RBAC objects shared across namespaces are "<namespace>:<name>", as Kubernetes' own system: ones.
      const name = /Role/.test(obj.kind) ? (obj.metadata.name ?? '').replace(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?:/, '') : obj.metadata.name;
      expect([id(obj), name]).toEqual([id(obj), expect.stringMatching(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)]);
      for (const label of ['app.kubernetes.io/name', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by']) {
        expect([id(obj), label, typeof obj.metadata.labels?.[label]]).toEqual([id(obj), label, 'string']);
      }
    }
    for (const { owner, template } of podTemplates(objects)) {
      expect([id(owner), template.metadata.labels['app.kubernetes.io/instance']]).toEqual([id(owner), expect.any(String)]);
    }
  });

  test('no Secret carries data', () => {
    for (const secret of objects.filter((o) => o.kind === 'Secret')) {
      expect([id(secret), secret.data, secret.stringData]).toEqual([id(secret), undefined, undefined]);
    }
  });

  test('every Role and ClusterRole grants exactly attach to its own server pod, nothing more', () => {
    const roles = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
    expect(roles.map(id)).toEqual(['Role mcp-servers/mcp-fetch-proxy', 'ClusterRole /team-a:mcp-everything-proxy']);
    for (const role of roles) {
      const server = role.metadata.labels!['app.kubernetes.io/instance']!;
      expect(role.rules).toEqual([
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'watch'], resourceNames: [`${server}-0`] },
        { apiGroups: [''], resources: ['pods/attach'], verbs: ['get', 'create'], resourceNames: [`${server}-0`] },
      ]);
      expect(role.rules).toEqual(attachRules([`${server}-0`]));
    }
  });

  test('the namespace-scoped team role is bound in the team namespace only, to its proxy', () => {
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    expect(bindings.map((b) => [id(b), b.roleRef.kind, b.roleRef.name, b.subjects])).toEqual([
      ['RoleBinding mcp-servers/mcp-fetch-proxy', 'Role', 'mcp-fetch-proxy', [{ kind: 'ServiceAccount', name: 'mcp-fetch-proxy', namespace: 'mcp-servers' }]],
      ['RoleBinding team-a/team-a:mcp-everything-proxy', 'ClusterRole', 'team-a:mcp-everything-proxy', [{ kind: 'ServiceAccount', name: 'mcp-everything-proxy', namespace: 'team-a' }]],
    ]);
  });

  test('every MCP and proxy pod is selected by an ingress and an egress NetworkPolicy', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const selects = (policy: any, namespace: string | undefined, labels: Record<string, string>) =>
      policy.metadata.namespace === namespace &&
      Object.entries(policy.spec.podSelector.matchLabels ?? {}).every(([k, val]) => labels[k] === val) &&
      (policy.spec.podSelector.matchExpressions ?? []).length === 0;
    const templates = podTemplates(objects);
    for (const { owner, template } of templates) {
      const covering = policies.filter((p) => selects(p, owner.metadata.namespace, template.metadata.labels));
      const types = new Set(covering.flatMap((p) => p.spec.policyTypes));
      expect([id(owner), [...types].sort()]).toEqual([id(owner), ['Egress', 'Ingress']]);
    }
  });

  test('no MCP server pod can reach a proxy, a client pod in the proxy\'s namespace can', () => {
    const proxies = podTemplates(objects).filter(({ template }) => template.metadata.labels['app.kubernetes.io/name'] === 'toolhive-proxy');
    const servers = podTemplates(objects).filter(({ template }) => template.metadata.labels['app.kubernetes.io/name'] === 'mcp-server');
    expect(proxies.length).toBeGreaterThanOrEqual(3);
    expect(servers.length).toBeGreaterThanOrEqual(3);
    for (const proxy of proxies) {
      const namespace = proxy.owner.metadata.namespace!;
      const ingress = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === `${proxy.owner.metadata.name}-ingress`)!;
      const peersOn8080 = ingress.spec.ingress.filter((rule: any) => rule.ports.some((p: any) => p.port === 8080)).flatMap((rule: any) => rule.from);
      const reaches = (podNamespace: string, labels: Record<string, string>) => peersOn8080.some((peer: any) => peerSelects(peer, namespace, podNamespace, labels));
      for (const server of servers) {
        expect([id(proxy.owner), id(server.owner), reaches(server.owner.metadata.namespace!, server.template.metadata.labels)]).toEqual([id(proxy.owner), id(server.owner), false]);
      }
      expect([id(proxy.owner), reaches(namespace, { app: 'agent' })]).toEqual([id(proxy.owner), true]);
    }
  });

  test('the fetching servers reach public addresses, but nothing inside the cluster and no metadata endpoint', () => {
    // Node's own CIDR matcher, not the library's, reads the synthesized ipBlocks.
    const reachable = (policy: any, address: string): boolean => policy.spec.egress.some((rule: any) => (rule.to ?? []).some((peer: any) => {
      if (!peer.ipBlock) return false;
      const family = peer.ipBlock.cidr.includes(':') ? 'ipv6' : 'ipv4';
      const list = (cidrs: string[]) => {
        const blocks = new BlockList();
        for (const cidr of cidrs) {
          const [net, bits] = cidr.split('/');
          blocks.addSubnet(net!, Number(bits), family);
        }
        return blocks;
      };
      if (isIP(address) !== (family === 'ipv6' ? 6 : 4)) return false;
      return list([peer.ipBlock.cidr]).check(address, family) && !list(peer.ipBlock.except ?? []).check(address, family);
    }));
    const inside = [
      '10.96.0.1', '10.244.3.17', '172.20.0.10', '192.168.49.2', '100.64.12.5',
      '240.16.0.9', '198.18.4.2', '34.118.224.10', // GKE pods on class E and benchmarking ranges, GKE's default Service range
      '169.254.169.254', '169.254.170.2', '100.100.100.200', '168.63.129.16', 'fd00:ec2::254', 'fd12:3456::1', 'fe80::1',
    ];
    const outside = ['1.1.1.1', '140.82.112.3', '2606:4700:4700::1111'];
    for (const server of ['fetch', 'gofetch']) {
      const policy = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === `${server}-egress`)!;
      expect({ server, reached: inside.filter((a) => reachable(policy, a)) }).toEqual({ server, reached: [] });
      expect({ server, reached: outside.filter((a) => reachable(policy, a)) }).toEqual({ server, reached: outside });
    }
  });

  test('stdio servers accept no ingress at all; HTTP servers only their proxy on their port', () => {
    const policy = (name: string) => objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name)!;
    expect(policy('fetch-ingress').spec.ingress).toEqual([]);
    expect(policy('gofetch-ingress').spec.ingress).toEqual([{
      from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'gofetch', 'app.kubernetes.io/name': 'toolhive-proxy' } } }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    }]);
  });
});

/**
 * Whether a NetworkPolicy peer of a policy in `policyNamespace` selects a pod, as the API server
 * reads it (namespaces are known by their `kubernetes.io/metadata.name` label only).
 */
function peerSelects(peer: any, policyNamespace: string, podNamespace: string, labels: Record<string, string>): boolean {
  if (peer.ipBlock) return false;
  const namespaceOk = peer.namespaceSelector
    ? labelSelectorMatches(peer.namespaceSelector, { 'kubernetes.io/metadata.name': podNamespace })
    : podNamespace === policyNamespace;
  return namespaceOk && (!peer.podSelector || labelSelectorMatches(peer.podSelector, labels));
}

function labelSelectorMatches(selector: any, labels: Record<string, string>): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  return byLabel && (selector.matchExpressions ?? []).every((e: any) => {
    switch (e.operator) {
      case 'In': return e.values.includes(labels[e.key]);
      case 'NotIn': return !e.values.includes(labels[e.key]);
      case 'Exists': return e.key in labels;
      case 'DoesNotExist': return !(e.key in labels);
      default: throw new Error(`unknown operator ${e.operator}`);
    }
  });
}
