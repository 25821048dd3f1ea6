import { describe, expect, test } from '@jest/globals';
import { McpArgoCdApplication, McpNamespace } from '../../lib/index.ts';
import { WARNING_PREFIX } from '../../lib/_warnings.ts';
import { find, newChart, withConsoleWarnings } from './_util.ts';

describe('McpNamespace', () => {
  test('enforces Pod Security restricted and carries no namespace of its own', () => {
    // GIVEN a chart with a namespace, which cdk8s would stamp on every object
    const chart = newChart('mcp');
    // WHEN
    new McpNamespace(chart, 'ns', { name: 'mcp', labels: { team: 'a' } });
    // THEN
    const ns = find(chart, 'Namespace', 'mcp');
    expect(ns.metadata.namespace).toBeUndefined();
    expect(ns.metadata.labels).toMatchObject({ team: 'a', 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' });
  });

  test('podSecurity sets the enforced level, warnings stay at restricted, and synth says so', () => {
    withConsoleWarnings((warnings) => {
      const chart = newChart();
      new McpNamespace(chart, 'ns', { name: 'legacy', podSecurity: 'baseline' });
      expect(find(chart, 'Namespace', 'legacy').metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/warn': 'restricted' });
      expect(warnings).toHaveBeenCalledWith(`${WARNING_PREFIX} namespace "legacy": podSecurity "baseline": admission enforces only Pod Security "baseline" here, so pods that fail "restricted" are admitted (with a warning); keep "restricted" unless a server needs root`);
      new McpNamespace(newChart(), 'ns', { name: 'strict' });
      expect(warnings).toHaveBeenCalledTimes(1);
    });
  });

  test('fails on a name that is not a namespace name', () => {
    expect(() => new McpNamespace(newChart(), 'ns', { name: 'Team_A' })).toThrow(/namespace name "Team_A" is not a valid namespace name/);
  });
});

describe('McpArgoCdApplication', () => {
  test('defaults: syncs dist/ of main into the cluster Argo CD runs in, automated', () => {
    // GIVEN
    const chart = newChart(undefined);
    // WHEN
    new McpArgoCdApplication(chart, 'app', { repoUrl: 'https://github.com/org/repo.git' });
    // THEN
    expect(find(chart, 'Application', 'toolhive-cdk8s')).toMatchObject({
      apiVersion: 'argoproj.io/v1alpha1',
      metadata: { namespace: 'argocd' },
      spec: {
        project: 'default',
        source: { repoURL: 'https://github.com/org/repo.git', targetRevision: 'main', path: 'dist' },
        destination: { server: 'https://kubernetes.default.svc' },
        syncPolicy: {
          automated: { prune: true, selfHeal: true },
          // A failed automated sync is tried again for the same commit only with a retry policy.
          retry: { limit: 10, backoff: { duration: '10s', factor: 2, maxDuration: '5m' } },
          syncOptions: ['CreateNamespace=false', 'PruneLast=true'],
        },
      },
    });
  });

  test('repo, revision, path, names and manual sync are props', () => {
    const chart = newChart(undefined);
    new McpArgoCdApplication(chart, 'app', {
      repoUrl: 'git@github.com:org/repo.git', targetRevision: 'v1.2.0', path: 'deploy/dist', name: 'mcp',
      argoCdNamespace: 'gitops', project: 'platform', destinationServer: 'https://prod.example.com', automated: false,
    });
    const app = find(chart, 'Application', 'mcp');
    expect(app.metadata.namespace).toBe('gitops');
    expect(app.spec.source).toEqual({ repoURL: 'git@github.com:org/repo.git', targetRevision: 'v1.2.0', path: 'deploy/dist' });
    expect(app.spec.project).toBe('platform');
    expect(app.spec.destination).toEqual({ server: 'https://prod.example.com' });
    expect(app.spec.syncPolicy.automated).toBeUndefined();
    expect(app.spec.syncPolicy.retry).toBeUndefined();
  });

  test('directories of CRD kinds are synced as further sources, skipped at dry-run until their CRD exists', () => {
    const chart = newChart(undefined);
    new McpArgoCdApplication(chart, 'app', { repoUrl: 'https://github.com/org/repo.git', directories: ['dist/prometheus-operator', 'dist/gateway-api'] });
    const app = find(chart, 'Application', 'toolhive-cdk8s');
    expect(app.spec.source).toBeUndefined();
    expect(app.spec.sources).toEqual(['dist', 'dist/prometheus-operator', 'dist/gateway-api']
      .map((path) => ({ repoURL: 'https://github.com/org/repo.git', targetRevision: 'main', path })));
    expect(app.spec.syncPolicy.syncOptions).toEqual(['CreateNamespace=false', 'PruneLast=true', 'SkipDryRunOnMissingResource=true']);
  });

  test('fails on a directory that is the path itself or leaves the repository', () => {
    const make = (dir: string) => () => new McpArgoCdApplication(newChart(undefined), 'app', { repoUrl: 'https://github.com/org/repo.git', directories: [dir] });
    expect(make('dist')).toThrow(/directory "dist" must be a folder of the repository other than path "dist"/);
    expect(make('../elsewhere')).toThrow(/without "\.\."/);
    expect(make('/abs')).toThrow(/directory "\/abs" must be a folder/);
  });
});
