/**
 * dist/ is the GitOps source: it must be exactly what `npm run synth` produces now, laid out so one
 * `kubectl apply -f dist/` works on a cluster without any CRD.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { kubectlBinary } from './_tools.ts';

const DIST = join(process.cwd(), 'dist');
const fresh = mkdtempSync(join(tmpdir(), 'dist-'));
afterAll(() => rmSync(fresh, { recursive: true, force: true }));

function listFiles(root: string): string[] {
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path) : [relative(root, path)];
  });
  return walk(root).sort();
}

describe('dist/', () => {
  // The real entry point, as `npm run synth` runs it, into a temporary folder.
  const output = execFileSync(join(process.cwd(), 'node_modules', '.bin', 'tsx'), ['main.ts', '--outdir', fresh], { encoding: 'utf8' });

  test('is identical to a fresh synth (run `npm run synth` and commit dist/ when this fails)', () => {
    const committed = listFiles(DIST);
    expect(listFiles(fresh)).toEqual(committed);
    for (const file of committed) {
      expect([file, readFileSync(join(fresh, file), 'utf8')]).toEqual([file, readFileSync(join(DIST, file), 'utf8')]);
    }
  });

  test('synth prints each server with its transport, in-cluster URL and an mcp.json snippet', () => {
    expect(output).toMatch(/mcp-servers\/fetch\s+stdio\s+http:\/\/mcp-fetch-proxy\.mcp-servers\.svc:8080\/mcp/);
    expect(output).toMatch(/mcp-servers\/gofetch\s+streamable-http\s+http:\/\/mcp-gofetch-proxy\.mcp-servers\.svc:8080\/mcp/);
    expect(output).toContain('kubectl -n team-a port-forward svc/mcp-everything-proxy 8082:8080');
    expect(output).toContain('{"mcpServers":{"fetch":{"url":"http://localhost:8080/mcp"}}}');
  });

  test('top-level files hold only built-in kinds, namespaces first; CRD kinds sit in subfolders', () => {
    const files = listFiles(fresh).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    const topLevel = files.filter((f) => !f.includes('/'));
    expect(topLevel[0]).toBe('00-namespaces.yaml');
    const kindsOf = (file: string) => parseAllDocuments(readFileSync(join(fresh, file), 'utf8')).map((d) => d.toJS()).map((o) => `${o.apiVersion} ${o.kind}`);
    expect(kindsOf('00-namespaces.yaml').every((k) => k === 'v1 Namespace')).toBe(true);
    for (const file of topLevel.slice(1)) {
      for (const kind of kindsOf(file)) {
        expect([file, kind]).toEqual([file, expect.stringMatching(/^(v1|apps\/v1|networking\.k8s\.io\/v1|rbac\.authorization\.k8s\.io\/v1) (?!Namespace)/)]);
      }
    }
    const argocdFiles = files.filter((f) => f.startsWith('argocd/'));
    expect(argocdFiles.length).toBeGreaterThan(0);
    for (const file of argocdFiles) {
      expect(kindsOf(file).every((k) => k === 'argoproj.io/v1alpha1 Application')).toBe(true);
    }
  });

  test('kustomization.yaml lists every top-level manifest, in apply order', () => {
    const kustomization = parse(readFileSync(join(fresh, 'kustomization.yaml'), 'utf8'));
    const topLevel = listFiles(fresh).filter((f) => !f.includes('/') && f !== 'kustomization.yaml');
    expect(kustomization).toEqual({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: topLevel });
  });

  test('`kubectl kustomize dist/` builds exactly the objects of the top-level files', () => {
    const built = parseAllDocuments(execFileSync(kubectlBinary(), ['kustomize', fresh], { encoding: 'utf8' })).map((d) => d.toJS());
    const topLevel = listFiles(fresh).filter((f) => !f.includes('/') && f !== 'kustomization.yaml')
      .flatMap((f) => parseAllDocuments(readFileSync(join(fresh, f), 'utf8')).map((d) => d.toJS()));
    const key = (o: any) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    expect(Object.fromEntries(built.map((o) => [key(o), o]))).toEqual(Object.fromEntries(topLevel.map((o) => [key(o), o])));
  });
});
