/**
 * The library as another cdk8s app consumes it: compiled by tsconfig.build.json (what `npm run
 * build` and the `prepare` script of a git install run), imported by plain Node from JavaScript.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';

const root = process.cwd();
const out = mkdtempSync(join(root, 'build', '.test-')); // inside the repo, so node_modules resolves
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the built library', () => {
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', out], { cwd: root });

  test('emits JavaScript and declarations for the entry point named in package.json', () => {
    expect(existsSync(join(out, 'lib', 'index.js'))).toBe(true);
    expect(existsSync(join(out, 'lib', 'index.d.ts'))).toBe(true);
  });

  test('synthesizes an McpServer from plain JavaScript under Node', () => {
    const script = join(out, 'consumer.mjs');
    writeFileSync(script, [
      "import { App, Chart } from 'cdk8s';",
      "import { McpServer, PermissionProfile } from './lib/index.js';",
      "const chart = new Chart(new App(), 'c', { namespace: 'mcp' });",
      "new McpServer(chart, 'fetch', { image: 'docker.io/mcp/fetch:2025.4.7', permissionProfile: PermissionProfile.internet() });",
      'console.log(JSON.stringify(chart.toJson().map((o) => o.kind + "/" + o.metadata.name)));',
    ].join('\n'));
    const kinds = JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8' }));
    expect(kinds).toEqual(expect.arrayContaining(['StatefulSet/fetch', 'Deployment/mcp-fetch-proxy', 'ConfigMap/mcp-fetch-proxy']));
  });
});
