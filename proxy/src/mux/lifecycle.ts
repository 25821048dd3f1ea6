/**
 * The backend's lifecycle as the multiplexer sees it, an explicit state machine:
 *
 *   connecting ──up(new process)──▶ handshaking ──initialize ok──▶ ready
 *        ▲                              │ error/timeout: retry after a delay
 *        └──────────── down ◀───────────┴──────────── down ◀─────── ready
 *   up(same process, handshake cached) ──▶ ready          stop() ──▶ stopped (from anywhere)
 *
 * The MCP handshake runs only for a process the proxy has not initialized (`newProcess: true`);
 * re-attaching to a live process reuses the cached result. Requests that arrive while not ready wait
 * (bounded by `backendWaitMs`) for `ready`; the sweep releases waiters whose time is up.
 */
import type { BackendStatus, Clock } from '../backends/types.ts';
import type { JsonRpcMessage } from '../jsonrpc.ts';
import type { Logger } from '../log.ts';
import { LATEST_PROTOCOL_VERSION } from '../protocol.ts';
import { restartReasonLabel, type RestartReason, type Telemetry } from '../telemetry/telemetry.ts';

export type LifecycleState = 'connecting' | 'handshaking' | 'ready' | 'down' | 'stopped';

export const PROXY_CLIENT_INFO = { name: 'toolhive-proxy', version: '0.1.0' } as const;

/**
 * What the proxy declares to the backend: every capability some client may have. Requests for a
 * capability no connected client has are answered with an error by the proxy (never silence).
 */
export const PROXY_CLIENT_CAPABILITIES = { sampling: {}, elicitation: {}, roots: { listChanged: true } } as const;

const HANDSHAKE_RETRY_MS = 1_000;

export interface LifecycleDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  /** Sends a request of the proxy's own; the callback receives the answer or a synthesized error. */
  readonly request: (method: string, params: Record<string, unknown>, callback: (message: JsonRpcMessage) => void) => void;
  readonly notify: (method: string, params?: Record<string, unknown>) => void;
  /** The backend is ready; `newProcess` tells whether its per-process state must be replayed. */
  readonly onReady: (newProcess: boolean) => void;
  /** The backend is lost: fail everything in flight with `reason`. */
  readonly onDown: (reason: string) => void;
}

interface Waiter {
  readonly deadline: number;
  /** Client requests that wait with it (a batch has several). */
  readonly requests: number;
  readonly resolve: (ready: boolean) => void;
}

export class BackendLifecycle {
  state: LifecycleState = 'connecting';
  /** Why the backend is not ready (for errors and logs). */
  reason = 'backend starting';
  /** The backend's `initialize` result, answered (with a negotiated version) to every client. */
  initResult: Record<string, unknown> | undefined;
  /** The cause of the last loss, kept while recovering so errors say why the backend is not ready. */
  private lastLoss = '';
  /** A loss reported `provisional`: counted once a later status tells its cause. */
  private unsettledLoss = false;
  private generation = 0;
  private waiters: Waiter[] = [];
  private retryTimer: unknown;
  private readonly deps: LifecycleDeps;

  constructor(deps: LifecycleDeps) {
    this.deps = deps;
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  get backendProtocolVersion(): string {
    const version = this.initResult?.protocolVersion;
    return typeof version === 'string' ? version : LATEST_PROTOCOL_VERSION;
  }

  private transition(next: LifecycleState, fields: Record<string, unknown> = {}): void {
    if (next === this.state) return;
    const level = next === 'down' ? 'warn' : 'info';
    this.deps.logger[level]('backend lifecycle', { from: this.state, to: next, ...fields });
    this.state = next;
  }

  onStatus(status: BackendStatus): void {
    if (this.state === 'stopped') return;
    if (status.state === 'up') {
      // The same process again: it was the connection. A new one without a named cause: unknown.
      if (this.unsettledLoss) this.countLoss(status.newProcess ? 'other' : 'connection_lost');
      this.generation += 1;
      if (!status.newProcess && this.initResult) {
        this.becomeReady(false, status.detail);
      } else {
        this.handshake(this.generation, status.detail);
      }
      return;
    }
    this.clearRetry();
    const wasUp = this.state === 'ready' || this.state === 'handshaking';
    this.reason = status.reason;
    this.lastLoss = status.reason;
    this.transition('down', { reason: status.reason, retryInMs: status.retryInMs });
    if (status.provisional) {
      if (wasUp) this.unsettledLoss = true;
    } else if (wasUp || this.unsettledLoss) {
      this.countLoss(restartReasonLabel(status.reason));
    }
    this.deps.onDown(status.reason);
  }

  private countLoss(reason: RestartReason): void {
    this.unsettledLoss = false;
    this.deps.telemetry.backendRestart(reason);
  }

  private handshake(generation: number, detail: string | undefined): void {
    this.clearRetry();
    this.reason = this.lastLoss ? `backend MCP handshake in progress (after: ${this.lastLoss})` : 'backend MCP handshake in progress';
    this.transition('handshaking', { detail });
    this.deps.request(
      'initialize',
      { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: PROXY_CLIENT_CAPABILITIES, clientInfo: PROXY_CLIENT_INFO },
      (message) => {
        if (generation !== this.generation || this.state !== 'handshaking') return;
        const result = message.result as Record<string, unknown> | undefined;
        if (message.error || typeof result !== 'object' || result === null) {
          this.reason = `backend refused initialize: ${message.error?.message ?? 'no result'}`;
          this.deps.logger.error('backend handshake failed', { error: message.error, retryInMs: HANDSHAKE_RETRY_MS });
          this.retryTimer = this.deps.clock.setTimeout(() => {
            this.retryTimer = undefined;
            if (generation === this.generation && this.state === 'handshaking') this.handshake(generation, detail);
          }, HANDSHAKE_RETRY_MS);
          return;
        }
        this.initResult = result;
        this.deps.notify('notifications/initialized');
        this.becomeReady(true, detail);
      },
    );
  }

  private becomeReady(newProcess: boolean, detail: string | undefined): void {
    this.reason = '';
    this.lastLoss = '';
    const serverInfo = this.initResult?.serverInfo as { name?: unknown; version?: unknown } | undefined;
    this.transition('ready', { newProcess, detail, protocolVersion: this.backendProtocolVersion, serverName: serverInfo?.name, serverVersion: serverInfo?.version });
    this.deps.onReady(newProcess);
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve(true);
  }

  /**
   * Resolves true once ready, false when `timeoutMs` passes first (checked by the sweep).
   * `requests`: the client requests that wait with this call, counted by `waiting`.
   */
  waitReady(timeoutMs: number, requests = 0): Promise<boolean> {
    if (this.state === 'ready') return Promise.resolve(true);
    if (this.state === 'stopped' || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => this.waiters.push({ deadline: this.deps.clock.now() + timeoutMs, requests, resolve }));
  }

  /** Client requests waiting for readiness. */
  get waiting(): number {
    let requests = 0;
    for (const waiter of this.waiters) requests += waiter.requests;
    return requests;
  }

  sweep(now: number): void {
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.deadline <= now) waiter.resolve(false);
      else keep.push(waiter);
    }
    this.waiters = keep;
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) this.deps.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  stop(reason: string): void {
    this.clearRetry();
    this.reason = reason;
    this.transition('stopped', { reason });
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve(false);
  }
}
