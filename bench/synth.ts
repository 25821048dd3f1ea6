/**
 * `npm run bench:synth`: synthesizes 10, 100 and 500 McpServers, each size in a fresh process,
 * prints time and peak memory, and records the table in docs/benchmarks.md between the
 * synth-bench markers (the rest of that file belongs to other benchmarks and is left alone).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const SIZES = [10, 100, 500];
const TARGET_MS = 10_000;
const START = '<!-- synth-bench:start -->';
const END = '<!-- synth-bench:end -->';
const root = process.cwd();

interface Run { servers: number; objects: number; constructMs: number; renderMs: number; writeMs: number; totalMs: number; peakRssMiB: number }

const tsx = join(root, 'node_modules', '.bin', 'tsx');
const runs: Run[] = SIZES.map((n) => {
  const out = execFileSync(tsx, [join(root, 'bench', 'synth-run.ts'), String(n)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
});

const machine = `${cpus().length} CPUs (nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()}), ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`;
const rows = runs.map((r) => `| ${r.servers} | ${r.objects} | ${r.constructMs} | ${r.renderMs} | ${r.writeMs} | **${r.totalMs}** | ${r.peakRssMiB} |`);
const largest = runs[runs.length - 1]!;
const section = [
  START,
  '## Synth: McpServers to dist/',
  '',
  'Command: `npm run bench:synth` (bench/synth.ts; each size in a fresh process, `bench/synth-run.ts <n>`).',
  'Servers alternate stdio and Streamable HTTP, 50 per namespace chart; each has its proxy. Time is',
  'constructing the app, rendering dist/ (cdk8s synth + YAML) and writing it; process start-up and',
  'module loading are not included. Peak memory is the process maximum RSS.',
  '',
  `- Machine: ${machine}`,
  `- Date: ${new Date().toISOString()}`,
  `- Node: ${process.version}`,
  '',
  '| servers | objects | construct ms | render ms | write ms | total ms | peak RSS MiB |',
  '|---|---|---|---|---|---|---|',
  ...rows,
  '',
  `Target: 500 servers in under ${TARGET_MS / 1000} s: ${largest.totalMs < TARGET_MS ? 'met' : 'NOT met'} (${largest.totalMs} ms).`,
  END,
].join('\n');

const path = join(root, 'docs', 'benchmarks.md');
const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
const start = current.indexOf(START);
const end = current.indexOf(END);
const updated = start >= 0 && end > start
  ? current.slice(0, start) + section + current.slice(end + END.length)
  : `${current.trimEnd()}\n\n${section}\n`;
writeFileSync(path, updated);

console.log(section.split('\n').filter((l) => l.startsWith('|') || l.startsWith('Target') || l.startsWith('- ')).join('\n'));
