/**
 * `npm run synth:helm` makes a Helm chart of the same objects as dist/: rendered by the real `helm`
 * binary, it must give back exactly dist/'s objects (CRD kinds only where the cluster serves them).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { escapeTemplate, renderHelmChart } from '../../lib/dist/helm-chart.ts';
import { renderDist, writeFiles } from '../../lib/dist/write-dist.ts';
import { buildApp } from '../../main.ts';
import { helmBinary } from './_tools.ts';

const work = mkdtempSync(join(tmpdir(), 'helm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const key = (o: any) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const objectsOf = (yamlText: string) => parseAllDocuments(yamlText).map((d) => d.toJS()).filter((o) => o);
const byKey = (objs: any[]) => Object.fromEntries(objs.map((o) => [key(o), o]));

describe('the Helm chart', () => {
  const distFiles = renderDist(buildApp());
  const chartDir = join(work, 'toolhive-cdk8s');
  writeFiles(chartDir, renderHelmChart(distFiles, { version: '0.1.0' }));
  // Everything but the Argo CD Applications, which belong to the GitOps path, not to a Helm release.
  const chartFiles = distFiles.filter((f) => f.path.endsWith('.yaml') && f.path !== 'kustomization.yaml' && !f.path.startsWith('argocd/'));
  const distObjects = chartFiles.flatMap((f) => objectsOf(f.content));
  // dist/ keeps the kinds that need a CRD in subfolders.
  const crdObjects = chartFiles.filter((f) => f.path.includes('/')).flatMap((f) => objectsOf(f.content));
  const crdApiVersions = [...new Set(crdObjects.map((o) => `${o.apiVersion}/${o.kind}`))];
  const template = (args: string[]) => execFileSync(helmBinary(), ['template', 'mcp', chartDir, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

  test('renders exactly the objects of dist/ on a cluster that serves the CRD kinds', () => {
    expect(crdApiVersions).toEqual(expect.arrayContaining(['gateway.networking.k8s.io/v1/HTTPRoute']));
    const rendered = objectsOf(template([...crdApiVersions, 'argoproj.io/v1alpha1/Application'].flatMap((v) => ['--api-versions', v])));
    expect(byKey(rendered)).toEqual(byKey(distObjects));
  });

  test('leaves out the CRD kinds on a cluster that does not serve them', () => {
    const rendered = objectsOf(template([]));
    const expected = distObjects.filter((o) => !crdApiVersions.includes(`${o.apiVersion}/${o.kind}`));
    expect(byKey(rendered)).toEqual(byKey(expected));
  });

  test('leaves out the Argo CD Applications of dist/argocd/', () => {
    expect(distFiles.some((f) => f.path.startsWith('argocd/'))).toBe(true);
    expect(template(['--api-versions', 'argoproj.io/v1alpha1/Application'])).not.toMatch(/kind: Application\b/);
  });

  test('has Chart.yaml with the given version', () => {
    expect(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')).toMatch(/version: 0\.1\.0/);
  });

  test('keeps text with template delimiters literal', () => {
    expect(escapeTemplate('a {{ $labels.server }} b')).toBe('a {{ "{{" }} $labels.server }} b');
  });
});
