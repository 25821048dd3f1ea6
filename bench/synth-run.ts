/**
 * One synth benchmark run, in its own process so its peak memory is its own:
 * `tsx bench/synth-run.ts <servers>` prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { App, Chart } from 'cdk8s';
import { McpServer, McpTransport, PermissionProfile } from '../lib/index.ts';
import { renderDist, writeFiles } from '../lib/dist/write-dist.ts';

const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 1) {
  throw new Error(`usage: tsx bench/synth-run.ts <servers>, got "${process.argv[2]}"`);
}

const start = performance.now();
const app = new App();
// 50 servers per namespace chart, alternating stdio and HTTP, as a large platform might look.
let chart: Chart | undefined;
for (let i = 0; i < count; i++) {
  if (i % 50 === 0) {
    chart = new Chart(app, `team-${i / 50}`, { namespace: `team-${i / 50}` });
  }
  new McpServer(chart!, `server-${i}`, {
    image: 'docker.io/mcp/fetch:2025.4.7',
    transport: i % 2 === 0 ? McpTransport.stdio() : McpTransport.streamableHttp({ port: 8080 }),
    permissionProfile: i % 3 === 0 ? PermissionProfile.network() : PermissionProfile.none(),
  });
}
const constructed = performance.now();
const files = renderDist(app);
const rendered = performance.now();
const outdir = mkdtempSync(join(tmpdir(), 'bench-synth-'));
writeFiles(outdir, files);
const written = performance.now();
rmSync(outdir, { recursive: true, force: true });
const objects = files.reduce((n, f) => n + (f.content.match(/^apiVersion:/gm)?.length ?? 0), 0);

console.log(JSON.stringify({
  servers: count,
  objects,
  constructMs: Math.round(constructed - start),
  renderMs: Math.round(rendered - constructed),
  writeMs: Math.round(written - rendered),
  totalMs: Math.round(written - start),
  peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
}));
