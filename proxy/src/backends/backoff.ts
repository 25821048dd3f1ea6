/**
 * Capped exponential backoff with full jitter ("decorrelated enough" for one process per backend):
 * the n-th consecutive failure waits a random time in [delay/2, delay], delay = min(max, initial·2ⁿ).
 * A success resets the sequence. `random` is injectable so tests can pin the jitter.
 */
import type { ResolvedBackoff } from '../config-validate.ts';

export class Backoff {
  private failures = 0;
  private readonly config: ResolvedBackoff;
  private readonly random: () => number;

  constructor(config: ResolvedBackoff, random: () => number = Math.random) {
    this.config = config;
    this.random = random;
  }

  /** The delay before the next attempt; each call counts one more consecutive failure. */
  next(): number {
    const ceiling = Math.min(this.config.maxDelayMs, this.config.initialDelayMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  reset(): void {
    this.failures = 0;
  }
}
