/**
 * What clients send the server while it cannot be reached: answers to its requests (and the
 * proxy's error answers for them), and notifications such as `notifications/roots/list_changed`.
 * A process reached again over a new attach connection is still waiting for them, so they are
 * held, oldest first, and sent when a re-attach finds the same process. A new process never gets
 * them: they concern the requests and the state of the one that is gone.
 *
 * Bounded by size: past `MAX_HELD_CHARS` the oldest are dropped, with one warning per outage.
 * Requests are not held: they wait for readiness in the HTTP front, bounded by `backendWaitMs`.
 */
import type { Logger } from '../log.ts';

/** Characters of JSON held at most (UTF-16 code units, about bytes for JSON). */
export const MAX_HELD_CHARS = 16 * 1024 * 1024;

interface Held {
  readonly text: string;
  /** Runs once the message has gone to the server. */
  readonly sent: (() => void) | undefined;
}

export class HeldForProcess {
  private items: Held[] = [];
  private chars = 0;
  /** Dropped for the bound since the last flush or discard. */
  private dropped = 0;
  private readonly logger: Logger;
  private readonly maxChars: number;

  constructor(logger: Logger, maxChars = MAX_HELD_CHARS) {
    this.logger = logger;
    this.maxChars = maxChars;
  }

  /** Messages held now. */
  get size(): number {
    return this.items.length;
  }

  hold(text: string, sent?: () => void): void {
    this.items.push({ text, sent });
    this.chars += text.length;
    let dropped = 0;
    while (this.chars > this.maxChars && this.items.length > 0) {
      this.chars -= this.items.shift()!.text.length;
      dropped += 1;
    }
    if (dropped === 0) return;
    if (this.dropped === 0) {
      this.logger.warn('messages for the server dropped while it is unreachable: over the bound held for it', { maxChars: this.maxChars });
    }
    this.dropped += dropped;
  }

  /**
   * Sends what is held, oldest first, while `send` takes it (a connection lost again keeps the
   * rest held). Returns how many went.
   */
  flush(send: (text: string) => boolean): number {
    let count = 0;
    while (count < this.items.length) {
      const item = this.items[count]!;
      if (!send(item.text)) break;
      this.chars -= item.text.length;
      count += 1;
      item.sent?.();
    }
    this.items.splice(0, count);
    if (count > 0) this.logger.info('messages held for the server sent to it', { messages: count, droppedForBound: this.dropped });
    this.dropped = 0;
    return count;
  }

  /** The process they were for is gone. */
  discard(): void {
    if (this.items.length > 0) {
      this.logger.info('messages held for a server process that was replaced: discarded', { messages: this.items.length });
    }
    this.items = [];
    this.chars = 0;
    this.dropped = 0;
  }
}
