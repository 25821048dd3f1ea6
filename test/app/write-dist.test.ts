import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { folderOf, renderDist, writeFiles } from '../../lib/dist/write-dist.ts';
import { McpNamespace, McpServer } from '../../lib/index.ts';

describe('the dist/ writer', () => {
  test('puts CRD kinds in one folder per API group, built-in kinds at the top', () => {
    expect(folderOf({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: {} })).toBe('prometheus-operator');
    expect(folderOf({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: {} })).toBe('argocd');
    expect(folderOf({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: {} })).toBe('gateway-api');
    expect(folderOf({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: {} })).toBe('example.com');
    expect(folderOf({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: {} })).toBe('');
    expect(folderOf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} })).toBe('');
  });

  test('places extra files (Helm values) without listing them in the kustomization', () => {
    const app = new App();
    const chart = new Chart(app, 'mcp', { namespace: 'mcp' });
    new McpNamespace(chart, 'ns', { name: 'mcp' });
    new McpServer(chart, 'fetch', { image: 'a/b:1' });
    const files = renderDist(app, { extraFiles: [{ path: 'helm-values/jaeger.yaml', content: 'a: 1\n' }] });
    expect(files.map((f) => f.path)).toEqual(['00-namespaces.yaml', '10-mcp.yaml', 'helm-values/jaeger.yaml', 'kustomization.yaml']);
    expect(files.find((f) => f.path === 'kustomization.yaml')!.content).not.toContain('helm-values');
  });

  test('orders objects inside a file so referenced kinds come first', () => {
    const app = new App();
    new McpServer(new Chart(app, 'mcp', { namespace: 'mcp' }), 'fetch', { image: 'a/b:1' });
    const kinds = renderDist(app)[0]!.content.match(/^kind: \w+/gm)!.map((k) => k.slice(6));
    expect(kinds.indexOf('ServiceAccount')).toBeLessThan(kinds.indexOf('StatefulSet'));
    expect(kinds.indexOf('ConfigMap')).toBeLessThan(kinds.indexOf('Deployment'));
    expect(kinds.lastIndexOf('RoleBinding')).toBeLessThan(kinds.indexOf('Deployment'));
  });

  test('replaces the output folder, so files of removed charts do not linger', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dist-writer-'));
    try {
      mkdirSync(join(dir, 'argocd'));
      writeFileSync(join(dir, 'argocd', 'stale.yaml'), 'old');
      writeFiles(dir, [{ path: 'a.yaml', content: 'x' }]);
      expect(readdirSync(dir)).toEqual(['a.yaml']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fails rather than replacing the working directory', () => {
    expect(() => writeFiles('.', [])).toThrow(/refusing to replace "\."/);
  });
});
