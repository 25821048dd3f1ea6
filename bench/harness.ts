/**
 * One benchmark run: start every selected target, warm each up, then measure the cells
 * (mode × concurrency × target) interleaved — for each cell the targets take turns, in an order that
 * rotates from turn to turn, for several rounds that split the cell's time — so a noisy few seconds
 * on the shared machine hurt every target alike rather than whichever happened to run then. A
 * target's rounds of a cell are merged into its row; the rate of each round is kept, so ratios can
 * be read round by round too. Every target is stopped on every path.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mergeCells, measureCell, runCell } from './load.ts';
import type { MeasuredCell, Mode } from './load.ts';
import { TreeSampler, machineBusySeconds, mergeUsage } from './proc-tree.ts';
import type { TreeUsage } from './proc-tree.ts';
import { measureWakeCost, wakeCostSummary } from './wake-cost.ts';
import { REPO_ROOT } from './processes.ts';
import type { Row, Run, TargetInfo } from './report.ts';
import { TARGETS } from './targets.ts';
import type { RunningTarget, TargetSpec } from './targets.ts';

export interface BenchOptions {
  readonly targets: readonly string[];
  readonly modes: readonly Mode[];
  readonly concurrency: { readonly [M in Mode]: readonly number[] };
  /** Measured seconds per cell and target, split evenly over the rounds. */
  readonly durationSeconds: number;
  /** Turns each target takes at each cell (default 1). */
  readonly rounds?: number;
  readonly warmupSeconds: number;
  /**
   * Unmeasured load right before each turn, at its mode and concurrency, on the connections and
   * sessions the turn then measures (default 0). Targets idle while the others take their turns, and
   * an idle Node process shrinks its heap and drops compiled code: without this, a cell would measure
   * part warm-up.
   */
  readonly cellWarmupSeconds?: number;
  readonly sessions: number;
  readonly timeoutMs: number;
  /** Upper bound on requests per cell, besides the duration. */
  readonly maxRequests: number;
  /** Shown in the report as the command that produced it. */
  readonly command: string;
  /** Round trips per transport and placement for the machine's wake cost (default 3000, about 2 s). */
  readonly wakeCostRoundTrips?: number;
  readonly log?: (line: string) => void;
}

function version(pkg: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

function machine(): string {
  const cpus = os.cpus();
  return `${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${os.type()} ${os.release()}`;
}

/**
 * Load averages (1, 5, 15 min) at the start: whether the machine was quiet. Not taken at the end,
 * where the run's own bursts (a bridge spawning 20 servers) dominate; each cell's other CPU % tells
 * what other work ran during it.
 */
const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** The machine's round trip to another process, for the report; a failure to measure it is said there, not fatal. */
function wakeCostOrWhyNot(roundTrips: number): string {
  try {
    return wakeCostSummary(measureWakeCost(roundTrips));
  } catch (error) {
    return `not measured: ${(error as Error).message.split('\n', 1)[0]}`;
  }
}

function describe(options: BenchOptions): string {
  const conc = options.modes.map((m) => `${m} at ${options.concurrency[m].join(', ')}`).join('; ');
  const rounds = options.rounds ?? 1;
  const cellWarmup = options.cellWarmupSeconds ? ` and a ${options.cellWarmupSeconds} s unmeasured warm-up at the cell's own load, on the same connections, before each turn` : '';
  const split = rounds > 1 ? ` (${rounds} rounds of ${+(options.durationSeconds / rounds).toFixed(2)} s, the targets taking turns in each)` : '';
  return `${options.durationSeconds} s per cell${split} after a ${options.warmupSeconds} s warm-up per target${cellWarmup}; ${conc}; ${options.sessions} shared sessions (fewer when fewer clients); request timeout ${options.timeoutMs} ms`;
}

/** One target's turn at one round of a cell. */
interface Turn {
  readonly part: MeasuredCell;
  readonly usage: TreeUsage;
  /** CPU spent meanwhile by everything but the target's tree and the generator. */
  readonly otherCpuSeconds: number;
}

function mergeTurns(target: string, mode: Mode, concurrency: number, turns: readonly Turn[]): Row {
  const { result } = mergeCells(turns.map((t) => t.part));
  const seconds = result.elapsedMs / 1000;
  const otherCpuPercent = seconds > 0 ? (turns.reduce((sum, t) => sum + t.otherCpuSeconds, 0) / seconds) * 100 : 0;
  return {
    target, mode, concurrency, result, usage: mergeUsage(turns.map((t) => t.usage)), otherCpuPercent,
    ...(turns.length > 1 ? { roundRates: turns.map((t) => t.part.result.rate) } : {}),
  };
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export async function runBenchmark(options: BenchOptions): Promise<Run> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const specs: TargetSpec[] = [];
  const infos: TargetInfo[] = [];
  for (const name of options.targets) {
    const spec = TARGETS.find((t) => t.name === name);
    if (!spec) throw new Error(`unknown target "${name}"; known: ${TARGETS.map((t) => t.name).join(', ')}`);
    const unavailable = spec.unavailable();
    infos.push({ name, description: spec.description, peer: spec.peer, ours: spec.ours ?? false, unavailable });
    if (unavailable) log(`skipping ${name}: ${unavailable}`); else specs.push(spec);
  }

  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const info = {
    date,
    machine: machine(),
    loadAverage: `at start ${loadAverage()}`,
    wakeCost: wakeCostOrWhyNot(options.wakeCostRoundTrips ?? 3000),
    versions: `Node ${process.version}; toolhive-proxy ${version('toolhive-proxy')} (commit ${gitCommit()}); @modelcontextprotocol/server-everything ${version('@modelcontextprotocol/server-everything')}; @modelcontextprotocol/sdk ${version('@modelcontextprotocol/sdk')}; supergateway ${version('supergateway')}; mcp-proxy ${version('mcp-proxy')}`,
    command: options.command,
    settings: describe(options),
    durationSeconds: options.durationSeconds,
  };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'toolhive-bench-'));
  const context = { workDir, timeoutMs: options.timeoutMs };
  const running = new Map<string, RunningTarget>();
  const rows: Row[] = [];
  let cellNumber = 0;
  const tag = (): string => `c${++cellNumber}${Date.now().toString(36)}`;
  try {
    for (const spec of [...specs]) {
      log(`starting ${spec.name}`);
      let target: RunningTarget;
      try {
        target = await spec.start(context);
      } catch (error) {
        // One target that cannot start must not cost the whole run: it is reported as not run.
        const reason = `failed to start: ${String((error as Error).message ?? error).split('\n')[0]}`;
        log(`${spec.name} ${reason}`);
        const index = infos.findIndex((t) => t.name === spec.name);
        infos[index] = { ...infos[index]!, unavailable: reason };
        specs.splice(specs.indexOf(spec), 1);
        continue;
      }
      running.set(spec.name, target);
      // Warm-up: JIT and connection setup, in both modes, not recorded.
      const warm = { sessions: options.sessions, durationMs: options.warmupSeconds * 1000, timeoutMs: options.timeoutMs, maxRequests: options.maxRequests };
      if (options.warmupSeconds > 0) {
        await runCell(target.driver(), { ...warm, mode: 'shared', concurrency: Math.min(20, spec.limits?.shared ?? 20), tag: tag() });
        if (options.modes.includes('unique')) await runCell(target.driver(), { ...warm, mode: 'unique', concurrency: 1, durationMs: warm.durationMs / 2, tag: tag() });
      }
    }
    const rounds = Math.max(1, Math.floor(options.rounds ?? 1));
    let turn = 0;
    for (const mode of options.modes) {
      for (const concurrency of options.concurrency[mode]) {
        const measured = specs.filter((spec) => {
          const limit = spec.limits?.[mode];
          if (limit === undefined || concurrency <= limit) return true;
          rows.push({ target: spec.name, mode, concurrency, skipped: `${spec.limits!.reason} (run up to ${limit})` });
          return false;
        });
        const turns = new Map<string, Turn[]>(measured.map((spec) => [spec.name, []]));
        for (let round = 1; round <= rounds; round++) {
          for (const spec of rotate(measured, turn++)) {
            const target = running.get(spec.name)!;
            const cell = { mode, concurrency, sessions: options.sessions, timeoutMs: options.timeoutMs, maxRequests: options.maxRequests };
            const sampler = new TreeSampler(target.pid);
            let busyBefore = 0;
            // The warm-up runs on the turn's own connections and sessions; sampling starts after it.
            const part = await measureCell(target.driver(), {
              ...cell, durationMs: (options.durationSeconds * 1000) / rounds, tag: tag(),
              warmupMs: (options.cellWarmupSeconds ?? 0) * 1000,
              onMeasure: () => {
                sampler.start();
                busyBefore = machineBusySeconds();
              },
            });
            const busy = machineBusySeconds() - busyBefore;
            const usage = sampler.stop();
            const { result } = part;
            const seconds = result.elapsedMs / 1000;
            const otherCpuSeconds = busy - usage.cpuSeconds - (result.generatorCpuPercent / 100) * seconds;
            turns.get(spec.name)!.push({ part, usage, otherCpuSeconds });
            const errors = Object.entries(result.errors).map(([k, n]) => `${k}: ${n}`).join(', ') || 'no errors';
            const of = rounds > 1 ? `  round ${round}/${rounds}` : '';
            log(`${mode.padEnd(6)} ${String(concurrency).padStart(4)}  ${spec.name.padEnd(13)} ${Math.round(result.rate).toString().padStart(6)}/s  p99 ${result.latency?.p99.toFixed(2) ?? '–'} ms  ${result.ok}/${result.requests} ok  ${errors}  rss ${(usage.peakRssBytes / 1e6).toFixed(0)} MB${of}`);
          }
        }
        for (const spec of measured) rows.push(mergeTurns(spec.name, mode, concurrency, turns.get(spec.name)!));
      }
    }
  } finally {
    for (const [name, target] of running) {
      await target.stop().catch((error: unknown) => log(`stopping ${name}: ${String(error)}`));
    }
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  return { info, targets: infos, rows };
}
