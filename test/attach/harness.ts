/**
 * Drives the attach backend directly (below the multiplexer) against the API emulator: JSON-RPC
 * requests matched to replies by id, every status the backend reports, and its log lines.
 */
import { createAttachBackend, type AttachTuning } from '../../proxy/src/backends/attach/index.ts';
import type { BackendStatus, StreamBackend } from '../../proxy/src/backends/types.ts';
import type { AttachBackendConfig } from '../../proxy/src/config.ts';
import { createLogger } from '../../proxy/src/log.ts';
import { afterEach } from '@jest/globals';
import type { KubeApiEmulator } from '../support/kube-api-emulator/index.ts';

export interface Reply {
  readonly id: number;
  readonly result?: Record<string, unknown>;
  readonly error?: { code: number; message: string };
}

export class BackendHarness {
  readonly backend: StreamBackend;
  readonly statuses: BackendStatus[] = [];
  readonly logs: Record<string, unknown>[] = [];
  private nextId = 0;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private statusWaiters: (() => void)[] = [];

  constructor(kube: KubeApiEmulator, config: Partial<AttachBackendConfig> = {}, tuning: AttachTuning = {}) {
    const logger = createLogger({ level: 'debug', write: (line) => { this.logs.push(JSON.parse(line) as Record<string, unknown>); } });
    this.backend = createAttachBackend({
      type: 'attach', namespace: kube.namespace, pod: kube.podName(), kubeconfig: kube.kubeconfigPath,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, ...config,
    }, { logger }, tuning);
    this.backend.onMessage((line) => {
      const message = JSON.parse(line) as Reply;
      const resolve = this.pending.get(message.id);
      if (resolve) {
        this.pending.delete(message.id);
        resolve(message);
      }
    });
    this.backend.onStatus((status) => {
      this.statuses.push(status);
      const waiters = this.statusWaiters;
      this.statusWaiters = [];
      for (const wake of waiters) wake();
    });
  }

  /** Starts the backend and waits for the first `up`, then initializes the MCP server. */
  async start(): Promise<BackendStatus & { state: 'up' }> {
    this.backend.start();
    const up = await this.waitForStatus((s) => s.state === 'up');
    if (up.newProcess) await this.initialize();
    return up;
  }

  async initialize(): Promise<Reply> {
    const reply = await this.request('initialize', {
      protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attach-test', version: '1' },
    });
    this.notify('notifications/initialized');
    // As the multiplexer does: only a successful handshake makes the process an initialized one.
    if (reply.result) this.backend.handshakeDone?.();
    return reply;
  }

  /** Sends a request; rejects at once when the backend refuses it (not up). */
  request(method: string, params: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Reply> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`${method} #${id}: no reply in ${timeoutMs} ms`)); }, timeoutMs);
      this.pending.set(id, (reply) => { clearTimeout(timer); resolve(reply); });
      if (!this.backend.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${method} #${id}: backend not up`));
      }
    });
  }

  notify(method: string): void {
    this.backend.send(JSON.stringify({ jsonrpc: '2.0', method }));
  }

  echo(message: string): Promise<Reply> {
    return this.request('tools/call', { name: 'echo', arguments: { message } });
  }

  /** Resolves with the first status from index `from` on that matches. */
  async waitForStatus<S extends BackendStatus>(match: (s: BackendStatus) => s is S, from?: number, timeoutMs?: number): Promise<S>;
  async waitForStatus(match: (s: BackendStatus) => boolean, from?: number, timeoutMs?: number): Promise<BackendStatus>;
  async waitForStatus(match: (s: BackendStatus) => boolean, from = 0, timeoutMs = 15_000): Promise<BackendStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.statuses.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching status in ${timeoutMs} ms; got ${JSON.stringify(this.statuses.slice(from))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.statusWaiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Log lines whose `msg` matches. */
  logsMatching(msg: RegExp): Record<string, unknown>[] {
    return this.logs.filter((line) => msg.test(String(line.msg)));
  }

  stop(): Promise<void> {
    return this.backend.stop();
  }
}

export const isUp = (s: BackendStatus): s is BackendStatus & { state: 'up' } => s.state === 'up';
export const isDown = (s: BackendStatus): s is BackendStatus & { state: 'down' } => s.state === 'down';
export const isNewProcessUp = (s: BackendStatus): s is BackendStatus & { state: 'up' } => s.state === 'up' && s.newProcess;

/** The emulator and backend harness of one test. */
export interface AttachTestEnv {
  kube?: KubeApiEmulator;
  harness?: BackendHarness;
}

/** Holds each test's emulator and harness and stops both after it, whatever happened in it. */
export function attachTestEnv(): AttachTestEnv {
  const env: AttachTestEnv = {};
  afterEach(async () => {
    await env.harness?.stop();
    await env.kube?.stop();
    env.harness = undefined;
    env.kube = undefined;
  });
  return env;
}
