/**
 * The load generator: C workers, each a closed loop (send, wait for the reply, send again) for a
 * fixed time, against one driver. Bounded twice: by time (`durationMs`, then in-flight requests get
 * at most their timeout) and by count (`maxRequests`). Latency is measured around each request
 * (shared mode) or each whole session (unique mode) with performance.now(): the same monotonic
 * high-resolution clock as process.hrtime, without allocating a bigint per reading.
 *
 * All workers share one thread: measured on the 2-core machines, this generator peaks below one
 * core (the report's gen CPU column: about 35 % at 24,000 req/s through the proxy), so extra
 * generator processes would not raise any target's numbers, only the load on the shared cores.
 */
import type { Driver } from './drivers.ts';
import type { FailureKind } from './mcp.ts';

export type Mode = 'shared' | 'unique';

export interface CellOptions {
  readonly mode: Mode;
  readonly concurrency: number;
  /** Shared mode: sessions opened before the clock starts; worker w uses session w mod N. */
  readonly sessions: number;
  readonly durationMs: number;
  readonly timeoutMs: number;
  readonly maxRequests: number;
  /** Makes payloads unique across cells, so a late reply from an earlier cell cannot pass a check. */
  readonly tag: string;
  /**
   * Unmeasured load first, on the same connections and sessions (default 0): the measured part then
   * starts warm, with no connection setup in it.
   */
  readonly warmupMs?: number;
  /** Called when the measured part starts, after the warm-up: where per-cell samplers start. */
  readonly onMeasure?: () => void;
}

export interface LatencySummary {
  readonly min: number;
  readonly avg: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface CellResult {
  readonly requests: number;
  readonly ok: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
  /** Successful requests (or units) per second. */
  readonly rate: number;
  /** Latency of successful requests, ms. */
  readonly latency: LatencySummary | undefined;
  /** CPU used by the generator process itself, as % of one core. */
  readonly generatorCpuPercent: number;
}

/** Nearest-rank percentiles over the full sample. */
export function summarize(samples: Float64Array): LatencySummary | undefined {
  if (samples.length === 0) return undefined;
  const sorted = Float64Array.from(samples).sort();
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  let sum = 0;
  for (const value of sorted) sum += value;
  return { min: sorted[0]!, avg: sum / sorted.length, p50: rank(50), p95: rank(95), p99: rank(99), max: sorted[sorted.length - 1]! };
}

/** A growable sample buffer: no per-sample allocation on the hot path. */
class Samples {
  private data = new Float64Array(65_536);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** One measured cell with its raw latencies, so that several rounds of a cell can be merged. */
export interface MeasuredCell {
  readonly result: CellResult;
  /** Latency of each successful request, ms. */
  readonly samples: Float64Array;
}

export async function runCell(driver: Driver, options: CellOptions): Promise<CellResult> {
  return (await measureCell(driver, options)).result;
}

/**
 * Several rounds of one cell as one result: counts and time add up, the rate is over the summed
 * time, the percentiles are over every request of every round, the generator's CPU is time-weighted.
 */
export function mergeCells(parts: readonly MeasuredCell[]): MeasuredCell {
  if (parts.length === 1) return parts[0]!;
  const errors: Record<string, number> = {};
  let requests = 0;
  let elapsedMs = 0;
  let generatorCpuMs = 0;
  for (const { result } of parts) {
    requests += result.requests;
    elapsedMs += result.elapsedMs;
    generatorCpuMs += (result.generatorCpuPercent / 100) * result.elapsedMs;
    for (const [kind, n] of Object.entries(result.errors)) errors[kind] = (errors[kind] ?? 0) + n;
  }
  const samples = new Float64Array(parts.reduce((n, part) => n + part.samples.length, 0));
  let offset = 0;
  for (const part of parts) {
    samples.set(part.samples, offset);
    offset += part.samples.length;
  }
  const ok = samples.length;
  return {
    samples,
    result: {
      requests, ok, errors, elapsedMs,
      rate: elapsedMs > 0 ? ok / (elapsedMs / 1000) : 0,
      latency: summarize(samples),
      generatorCpuPercent: elapsedMs > 0 ? (generatorCpuMs / elapsedMs) * 100 : 0,
    },
  };
}

export async function measureCell(driver: Driver, options: CellOptions): Promise<MeasuredCell> {
  await driver.prepare(options.mode === 'shared' ? Math.min(options.sessions, options.concurrency) : 0);
  let seq = 0;
  /** C closed-loop workers for `durationMs`; bounded even if a driver failed to time a request out. */
  const load = async (durationMs: number, record: (failure: FailureKind | undefined, ms: number) => void, counted: () => boolean): Promise<boolean> => {
    const stopAt = performance.now() + durationMs;
    const worker = async (w: number): Promise<void> => {
      while (performance.now() < stopAt && counted()) {
        const payload = `${options.tag}-${w}-${seq++}`;
        const t0 = performance.now();
        const failure: FailureKind | undefined = options.mode === 'shared' ? await driver.echo(w, payload) : await driver.unit(w, payload);
        record(failure, performance.now() - t0);
      }
    };
    let hardStop: NodeJS.Timeout | undefined;
    const bound = new Promise<'overrun'>((resolve) => {
      hardStop = setTimeout(() => resolve('overrun'), durationMs + options.timeoutMs * 4 + 5000);
    });
    const outcome = await Promise.race([Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w))), bound]);
    clearTimeout(hardStop);
    return outcome !== 'overrun';
  };
  if (options.warmupMs) await load(options.warmupMs, () => {}, () => true);

  const latencies = new Samples();
  const errors: Record<string, number> = {};
  let requests = 0;
  options.onMeasure?.();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const finished = await load(options.durationMs, (failure, ms) => {
    if (failure === undefined) latencies.push(ms);
    else errors[failure] = (errors[failure] ?? 0) + 1;
  }, () => {
    if (requests >= options.maxRequests) return false;
    requests++;
    return true;
  });
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  await driver.finish();
  if (!finished) errors['overrun'] = (errors['overrun'] ?? 0) + 1;

  const ok = latencies.length;
  const samples = Float64Array.from(latencies.view());
  return {
    samples,
    result: {
      requests,
      ok,
      errors,
      elapsedMs,
      rate: ok / (elapsedMs / 1000),
      latency: summarize(samples),
      generatorCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    },
  };
}
