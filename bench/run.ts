/**
 * `npm run bench [-- options]`: the proxy benchmark. Prints the table and, unless told otherwise,
 * regenerates the proxy section of docs/benchmarks.md and docs/benchmarks.svg.
 *
 * Options (each also settable by the environment variable in brackets):
 *   --quick                 1 s cells, concurrency 1 and 20, no docs written (a quick look)
 *   --duration S            measured seconds per cell and target [BENCH_DURATION] (default 6)
 *   --rounds N              turns per cell, splitting its seconds; the targets take turns in each [BENCH_ROUNDS] (default 3; 1 with --quick)
 *   --warmup S              warm-up seconds per target [BENCH_WARMUP] (default 2)
 *   --cell-warmup S         unmeasured seconds at the cell's load before each turn, on the connections it then measures [BENCH_CELL_WARMUP] (default 1)
 *   --concurrency 1,20,...  shared-session concurrencies [BENCH_CONCURRENCY] (default 1,20,200,1000)
 *   --unique-concurrency .. unique-session concurrencies [BENCH_UNIQUE_CONCURRENCY] (default 1,20,200)
 *   --targets a,b           targets to run [BENCH_TARGETS] (default all: see bench/targets.ts)
 *   --modes shared,unique   [BENCH_MODES]
 *   --sessions N            shared sessions opened per cell (default 10, as in the load-test post)
 *   --timeout MS            per-request timeout (default 10000)
 *   --out FILE              markdown to update (default docs/benchmarks.md; the chart goes next to it)
 *   --no-write              print only
 *   --json FILE             also write the raw rows as JSON
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chartSvg } from './chart.ts';
import { runBenchmark } from './harness.ts';
import type { Mode } from './load.ts';
import { REPO_ROOT, killTargetsOnSignals } from './processes.ts';
import { markdownSection, ratioLines, textTable, updateDocument } from './report.ts';
import { TARGETS } from './targets.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    'cell-warmup': { type: 'string' },
    concurrency: { type: 'string' },
    'unique-concurrency': { type: 'string' },
    targets: { type: 'string' },
    modes: { type: 'string' },
    sessions: { type: 'string' },
    timeout: { type: 'string' },
    out: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  const source = fs.readFileSync(new URL(import.meta.url), 'utf8');
  process.stdout.write(`${source.slice(source.indexOf('/**') + 4, source.indexOf('*/')).replace(/^ \* ?/gm, '')}\n`);
  process.exit(0);
}

const env = process.env;
const list = (text: string): string[] => text.split(',').map((s) => s.trim()).filter(Boolean);
const numbers = (text: string, what: string): number[] => list(text).map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error(`${what}: "${s}" is not a whole number from 1 to 10000`);
  return n;
});
const positive = (text: string, what: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 600) throw new Error(`${what}: "${text}" is not a number of seconds from 0 to 600`);
  return n;
};

const quick = values.quick;
const modes = list(values.modes ?? env['BENCH_MODES'] ?? 'shared,unique') as Mode[];
for (const mode of modes) if (mode !== 'shared' && mode !== 'unique') throw new Error(`--modes: "${mode}" is not shared or unique`);

const args = process.argv.slice(2);
const command = env['npm_lifecycle_event'] === 'bench' ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}` : `node bench/run.ts ${args.join(' ')}`.trim();

killTargetsOnSignals();
const run = await runBenchmark({
  targets: list(values.targets ?? env['BENCH_TARGETS'] ?? TARGETS.map((t) => t.name).join(',')),
  modes,
  concurrency: {
    shared: numbers(values.concurrency ?? env['BENCH_CONCURRENCY'] ?? (quick ? '1,20' : '1,20,200,1000'), '--concurrency'),
    unique: numbers(values['unique-concurrency'] ?? env['BENCH_UNIQUE_CONCURRENCY'] ?? (quick ? '1,20' : '1,20,200'), '--unique-concurrency'),
  },
  durationSeconds: positive(values.duration ?? env['BENCH_DURATION'] ?? (quick ? '1' : '6'), '--duration'),
  rounds: numbers(values.rounds ?? env['BENCH_ROUNDS'] ?? (quick ? '1' : '3'), '--rounds')[0]!,
  warmupSeconds: positive(values.warmup ?? env['BENCH_WARMUP'] ?? (quick ? '0.5' : '2'), '--warmup'),
  cellWarmupSeconds: positive(values['cell-warmup'] ?? env['BENCH_CELL_WARMUP'] ?? (quick ? '0' : '1'), '--cell-warmup'),
  sessions: numbers(values.sessions ?? '10', '--sessions')[0]!,
  timeoutMs: numbers(values.timeout ?? '10000', '--timeout')[0]!,
  maxRequests: 5_000_000,
  command,
});

process.stdout.write(`\n${textTable(run)}\n\n${ratioLines(run).join('\n')}\n`);

if (values.json) fs.writeFileSync(values.json, JSON.stringify(run, null, 2));
const write = !values['no-write'] && (!quick || values.out !== undefined);
if (write) {
  const out = path.resolve(values.out ?? path.join(REPO_ROOT, 'docs/benchmarks.md'));
  const chart = out.replace(/\.md$/, '') + '.svg';
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(chart, chartSvg(run));
  const existing = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : undefined;
  fs.writeFileSync(out, updateDocument(existing, markdownSection(run, path.basename(chart))));
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)} and ${path.relative(process.cwd(), chart)}\n`);
}
