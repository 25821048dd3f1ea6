/**
 * Liveness of a quiet attach. A connection can die without a close reaching the proxy (a NAT or
 * load balancer dropping idle flows, a half-open TCP connection), and the kubelet closes v4
 * streams that carry no stdin or stdout for its streaming idle timeout, while WebSocket pings do
 * not count as activity (ATTACH.md). So after `idleMs` in which nothing came back (stdout or a
 * pong) the backend writes an MCP `ping` to the server's stdin (the write keeps the stream active,
 * the reply proves the whole path) and sends a WebSocket ping (its pong proves the path even while
 * the server is too busy to answer). Neither within `timeoutMs` means the connection is dead.
 * Writes do not count as proof: a half-open connection takes them without complaint, so clients
 * that keep sending must not keep a dead connection "ready". Whether the *process* lives is the
 * pod watch's business, not this probe's.
 *
 * The probe's id is the backend's own, so its reply is taken out of the stream before the
 * multiplexer sees it.
 */
import type { Clock } from '../types.ts';

const PROBE_ID_PREFIX = '__toolhive_attach_probe_';

export interface IdleProbeOptions {
  readonly idleMs: number;
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Writes one JSON-RPC line to the server's stdin. */
  send(line: string): void;
  /** Sends a WebSocket ping. */
  ping(): void;
  /** No reply in time: the connection is presumed dead. */
  dead(reason: string): void;
}

export class IdleProbe {
  private readonly options: IdleProbeOptions;
  private lastReceived: number;
  private probeSentAt = 0;
  private timer: unknown;
  private outstanding: string | undefined;
  private sequence = 0;
  private running = false;

  constructor(options: IdleProbeOptions) {
    this.options = options;
    this.lastReceived = options.clock.now();
  }

  start(): void {
    if (this.options.idleMs <= 0) return;
    this.running = true;
    this.lastReceived = this.options.clock.now();
    this.schedule(this.options.idleMs);
  }

  stop(): void {
    this.running = false;
    this.outstanding = undefined;
    this.options.clock.clearTimeout(this.timer);
  }

  /** Stdout from the server, or a pong: proof the connection is alive even when the probe's own reply is slow. Cheap, called on the hot path. */
  received(): void {
    this.lastReceived = this.options.clock.now();
  }

  /** True when `line` is the reply to a probe (and must not reach the multiplexer). */
  intercept(line: string): boolean {
    if (!line.includes(PROBE_ID_PREFIX)) return false;
    let id: unknown;
    try {
      id = (JSON.parse(line) as { id?: unknown }).id;
    } catch {
      return false;
    }
    if (typeof id !== 'string' || !id.startsWith(PROBE_ID_PREFIX)) return false;
    if (id === this.outstanding) {
      this.outstanding = undefined;
      this.options.clock.clearTimeout(this.timer);
      if (this.running) this.schedule(this.options.idleMs);
    }
    return true;
  }

  private schedule(ms: number): void {
    this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => this.check(), ms);
  }

  private check(): void {
    if (!this.running) return;
    if (this.outstanding && this.lastReceived >= this.probeSentAt) this.outstanding = undefined;
    if (this.outstanding) {
      this.running = false;
      this.options.dead(
        `no traffic for ${this.options.idleMs} ms and no reply to an MCP or WebSocket ping within ${this.options.timeoutMs} ms: ` +
        'the attach connection is presumed dead',
      );
      return;
    }
    const quietFor = this.options.clock.now() - this.lastReceived;
    if (quietFor < this.options.idleMs) {
      this.schedule(this.options.idleMs - quietFor);
      return;
    }
    this.sequence += 1;
    this.outstanding = `${PROBE_ID_PREFIX}${this.sequence}`;
    this.probeSentAt = this.options.clock.now();
    this.options.send(JSON.stringify({ jsonrpc: '2.0', id: this.outstanding, method: 'ping' }));
    this.options.ping();
    this.schedule(this.options.timeoutMs);
  }
}
