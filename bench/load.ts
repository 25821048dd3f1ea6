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

export async function runCell(driver: Driver, options: CellOptions): Promise<CellResult> {
  await driver.prepare(options.mode === 'shared' ? Math.min(options.sessions, options.concurrency) : 0);
  const latencies = new Samples();
  const errors: Record<string, number> = {};
  let requests = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const stopAt = start + options.durationMs;

  const worker = async (w: number): Promise<void> => {
    let seq = 0;
    while (performance.now() < stopAt && requests < options.maxRequests) {
      requests++;
      const payload = `${options.tag}-${w}-${seq++}`;
      const t0 = performance.now();
      const failure: FailureKind | undefined = options.mode === 'shared' ? await driver.echo(w, payload) : await driver.unit(w, payload);
      if (failure === undefined) latencies.push(performance.now() - t0);
      else errors[failure] = (errors[failure] ?? 0) + 1;
    }
  };

  // Belt and braces: drivers time requests out themselves, this bounds the cell even if one did not.
  let hardStop: NodeJS.Timeout | undefined;
  const bound = new Promise<'overrun'>((resolve) => {
    hardStop = setTimeout(() => resolve('overrun'), options.durationMs + options.timeoutMs * 4 + 5000);
  });
  const workers = Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
  const outcome = await Promise.race([workers, bound]);
  const elapsedMs = performance.now() - start;
  clearTimeout(hardStop);
  const cpu = process.cpuUsage(cpuBefore);
  await driver.finish();
  if (outcome === 'overrun') errors['overrun'] = (errors['overrun'] ?? 0) + 1;

  const ok = latencies.length;
  return {
    requests,
    ok,
    errors,
    elapsedMs,
    rate: ok / (elapsedMs / 1000),
    latency: summarize(latencies.view()),
    generatorCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
  };
}
