/**
 * What each process on a target's request path spends per request: CPU, time waiting for a CPU,
 * sleeps (voluntary context switches), preemptions (involuntary ones), read/write system calls and
 * the share of the CPU time spent in the kernel, from /proc while the generator drives the target. It shows where an extra hop's cost lands: on
 * the hop itself, or on the processes around it. Not part of `npm run bench`:
 *
 *   node bench/process-cost.ts [--targets proxy,proxy-attach] [--concurrency 20] [--duration 4] [--rounds 2]
 *
 * The targets take turns, each cell after one unmeasured second at its load, as in the benchmark.
 * Run it on a quiet machine; compare targets within one run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCell } from './load.ts';
import { REPO_ROOT, killTargetsOnSignals } from './processes.ts';
import { processTree } from './proc-tree.ts';
import { TARGETS, type RunningTarget } from './targets.ts';

/** Cumulative counters of one process (all its threads). */
export interface ProcessCounters {
  /** CPU time, ns (schedstat). */
  readonly runNs: number;
  /** Time runnable but waiting for a CPU, ns (schedstat). */
  readonly waitNs: number;
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
  readonly readCalls: number;
  readonly writeCalls: number;
  /** CPU time in user and in kernel mode, clock ticks (/proc/<pid>/stat utime and stime, all threads). */
  readonly userTicks: number;
  readonly systemTicks: number;
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return undefined; // exited, or not readable
  }
}

function field(text: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** The counters of `pid` from /proc, or undefined once it is gone. */
export function processCounters(pid: number): ProcessCounters | undefined {
  const status = read(`/proc/${pid}/status`);
  if (status === undefined) return undefined;
  let runNs = 0;
  let waitNs = 0;
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  for (const task of tasks) {
    const [run, wait] = (read(`/proc/${pid}/task/${task}/schedstat`) ?? '0 0').split(' ').map(Number);
    runNs += run ?? 0;
    waitNs += wait ?? 0;
  }
  const io = read(`/proc/${pid}/io`) ?? '';
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const stat = (read(`/proc/${pid}/stat`) ?? '').split(') ')[1]?.split(' ') ?? [];
  return {
    runNs,
    waitNs,
    voluntarySwitches: field(status, 'voluntary_ctxt_switches'),
    involuntarySwitches: field(status, 'nonvoluntary_ctxt_switches'),
    readCalls: field(io, 'syscr'),
    writeCalls: field(io, 'syscw'),
    userTicks: Number(stat[11] ?? 0),
    systemTicks: Number(stat[12] ?? 0),
  };
}

/** Options whose value is the next argument and is not the script (Node's preloads). */
const OPTIONS_WITH_VALUE = new Set(['--import', '--require', '-r', '--loader']);

/** A short name for a process: its script (repo-relative, or the npm package it is in), else its command. */
export function processLabel(pid: number): string {
  const args = (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean);
  let script: string | undefined;
  for (let i = 1; i < args.length; i++) {
    if (OPTIONS_WITH_VALUE.has(args[i]!)) i += 1;
    else if (!args[i]!.startsWith('-')) {
      script = args[i];
      break;
    }
  }
  if (!script) return path.basename(args[0] ?? `pid ${pid}`);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(script);
  if (pkg) return pkg[1]!;
  const relative = path.relative(REPO_ROOT, path.resolve(REPO_ROOT, script));
  return relative.startsWith('..') ? script : relative;
}

export interface PerRequest {
  readonly label: string;
  readonly cpuPercent: number;
  readonly cpuUs: number;
  readonly waitUs: number;
  readonly sleeps: number;
  readonly preemptions: number;
  readonly reads: number;
  readonly writes: number;
  /** Share of the CPU time spent in the kernel, %. */
  readonly systemPercent: number;
}

export function perRequest(label: string, before: ProcessCounters, after: ProcessCounters, requests: number, seconds: number): PerRequest {
  const n = Math.max(1, requests);
  return {
    label,
    cpuPercent: (after.runNs - before.runNs) / 1e7 / seconds,
    cpuUs: (after.runNs - before.runNs) / 1e3 / n,
    waitUs: (after.waitNs - before.waitNs) / 1e3 / n,
    sleeps: (after.voluntarySwitches - before.voluntarySwitches) / n,
    preemptions: (after.involuntarySwitches - before.involuntarySwitches) / n,
    reads: (after.readCalls - before.readCalls) / n,
    writes: (after.writeCalls - before.writeCalls) / n,
    systemPercent: (100 * (after.systemTicks - before.systemTicks)) /
      Math.max(1, after.userTicks - before.userTicks + after.systemTicks - before.systemTicks),
  };
}

function pathPids(target: RunningTarget): number[] {
  return [target.pid, ...(target.alsoOnPath ?? [])].flatMap((root) => processTree(root));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', default: 'proxy,proxy-attach' },
      concurrency: { type: 'string', default: '20' },
      duration: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '2' },
    },
  });
  const names = values.targets.split(',').map((s) => s.trim()).filter(Boolean);
  const concurrency = Number(values.concurrency);
  const seconds = Number(values.duration);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency: "${values.concurrency}" is not a whole number ≥ 1`);
  if (!(seconds > 0 && seconds <= 600)) throw new Error(`--duration: "${values.duration}" is not a number of seconds from 0 to 600`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: "${values.rounds}" is not a whole number ≥ 1`);
  const specs = names.map((name) => {
    const spec = TARGETS.find((t) => t.name === name);
    if (!spec) throw new Error(`unknown target "${name}" (known: ${TARGETS.map((t) => t.name).join(', ')})`);
    const problem = spec.unavailable();
    if (problem) throw new Error(`${name} cannot run here: ${problem}`);
    return spec;
  });
  if (!fs.existsSync('/proc/self/schedstat')) throw new Error('this kernel has no /proc/<pid>/schedstat: CPU and wait times cannot be read');

  killTargetsOnSignals();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'process-cost-'));
  const running: RunningTarget[] = [];
  try {
    for (const spec of specs) running.push(await spec.start({ workDir, timeoutMs: 10_000 }));
    for (let round = 0; round < rounds; round++) {
      for (const [i, target] of running.entries()) {
        const cell = { mode: 'shared' as const, concurrency, sessions: 10, timeoutMs: 10_000, maxRequests: 50_000_000 };
        await runCell(target.driver(), { ...cell, durationMs: 1000, tag: 'warm-up' });
        const pids = [...pathPids(target), process.pid];
        const before = new Map(pids.map((pid) => [pid, processCounters(pid)]));
        const started = process.hrtime.bigint();
        const result = await runCell(target.driver(), { ...cell, durationMs: seconds * 1000, tag: 'measured' });
        const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
        const rows: PerRequest[] = [];
        for (const pid of pids) {
          const a = before.get(pid);
          const b = processCounters(pid);
          if (!a || !b) continue;
          rows.push(perRequest(pid === process.pid ? 'load generator' : processLabel(pid), a, b, result.ok, elapsed));
        }
        const p = result.latency;
        process.stdout.write(`\n${names[i]}, ${concurrency} clients: ${Math.round(result.rate)} req/s, p50 ${p?.p50.toFixed(2) ?? '–'} ms, p99 ${p?.p99.toFixed(2) ?? '–'} ms\n`);
        process.stdout.write('| process | CPU % | CPU µs/req | wait µs/req | sleeps/req | preempted/req | reads/req | writes/req | kernel % |\n|---|---|---|---|---|---|---|---|---|\n');
        for (const r of rows) {
          process.stdout.write(`| ${r.label} | ${r.cpuPercent.toFixed(0)} | ${r.cpuUs.toFixed(1)} | ${r.waitUs.toFixed(1)} | ${r.sleeps.toFixed(2)} | ${r.preemptions.toFixed(2)} | ${r.reads.toFixed(2)} | ${r.writes.toFixed(2)} | ${r.systemPercent.toFixed(0)} |\n`);
        }
      }
    }
  } finally {
    for (const target of running) await target.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
