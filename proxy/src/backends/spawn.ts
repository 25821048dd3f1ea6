/**
 * The `spawn` stream backend: the MCP server as a local child process speaking newline-delimited
 * JSON-RPC on its stdio. Used for development (`toolhive-proxy -- <command>`), tests and benchmarks.
 *
 * - The child is started in its own process group (`detached`), and the whole group is killed when
 *   the child exits, when the backend stops, and when the proxy process exits, so servers launched
 *   through wrappers (`npx`, `sh -c`) leave no orphans.
 * - stdout is split into lines for the multiplexer; stderr is split into lines and logged, never mixed
 *   into the JSON stream.
 * - Sends of one event-loop turn are coalesced into one write: at high request rates this turns
 *   thousands of small pipe writes into a few large ones.
 * - Exit → `down` (reason names the exit code or signal) → restart after capped backoff with jitter.
 *
 * States: idle → starting → running → (exited → waiting) → starting ... ; stop() → stopping → stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ResolvedSpawnBackend } from '../config-validate.ts';
import { Backoff } from './backoff.ts';
import { LineSplitter } from './line-splitter.ts';
import { systemClock, type BackendDeps, type BackendStatus, type Clock, type StreamBackend } from './types.ts';

type SpawnState = 'idle' | 'starting' | 'running' | 'waiting' | 'stopping' | 'stopped';

/** How long a child must have run for its exit to count as a fresh failure (resetting the backoff). */
const STABLE_RUN_MS = 30_000;
/** After SIGTERM on stop, the group gets this long before SIGKILL. */
const STOP_KILL_AFTER_MS = 3_000;

export class SpawnBackend implements StreamBackend {
  readonly kind = 'spawn';
  private readonly config: ResolvedSpawnBackend;
  private readonly deps: BackendDeps;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private state: SpawnState = 'idle';
  private child: ChildProcess | undefined;
  private startedAt = 0;
  private restartTimer: unknown;
  private queue: string[] = [];
  private queuedChars = 0;
  private flushScheduled = false;
  private messageHandler: (message: string) => void = () => {};
  private statusHandler: (status: BackendStatus) => void = () => {};
  private exited: Promise<void> = Promise.resolve();
  private readonly killGroupOnExit = (): void => this.killGroup('SIGKILL');

  constructor(config: ResolvedSpawnBackend, deps: BackendDeps) {
    this.config = config;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.backoff = new Backoff(config.restart);
  }

  /** Process id of the running child, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  onMessage(handler: (message: string) => void): void {
    this.messageHandler = handler;
  }

  onStatus(handler: (status: BackendStatus) => void): void {
    this.statusHandler = handler;
  }

  start(): void {
    if (this.state !== 'idle') return;
    process.on('exit', this.killGroupOnExit);
    this.launch();
  }

  send(message: string): boolean {
    if (this.state !== 'running') return false;
    this.queue.push(message);
    this.queuedChars += message.length + 1;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return true;
  }

  /** Queued lines, and what the child's stdin stream holds beyond what the kernel took (a socket pair's buffer). */
  stdinBacklog(): number {
    if (this.state !== 'running') return 0;
    return this.queuedChars + (this.child?.stdin?.writableLength ?? 0);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const child = this.child;
    const queue = this.queue;
    this.queue = [];
    this.queuedChars = 0;
    if (queue.length === 0 || this.state !== 'running' || !child?.stdin) return;
    child.stdin.write(queue.length === 1 ? queue[0] + '\n' : queue.join('\n') + '\n');
  };

  private transition(next: SpawnState, fields: Record<string, unknown> = {}): void {
    if (next === this.state) return;
    this.deps.logger.info('spawn backend state', { from: this.state, to: next, ...fields });
    this.state = next;
  }

  private launch(): void {
    this.transition('starting', { command: this.config.command, args: this.config.args });
    let child: ChildProcess;
    try {
      child = spawn(this.config.command, [...this.config.args], {
        cwd: this.config.cwd,
        env: { ...process.env, ...this.config.env },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
    } catch (error) {
      this.onExit(undefined, `failed to start "${this.config.command}": ${(error as Error).message}`);
      return;
    }
    this.child = child;
    let resolveExited: () => void = () => {};
    this.exited = new Promise((resolve) => (resolveExited = resolve));
    let done = false;
    const finish = (reason: string): void => {
      if (done) return;
      done = true;
      resolveExited();
      this.onExit(child, reason);
    };

    const stdout = new LineSplitter((line) => {
      if (this.child === child) this.messageHandler(line);
    });
    const stderr = new LineSplitter((line) => this.deps.logger.info('backend stderr', { pid: child.pid, line }));
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: string) => stderr.push(chunk));
    // EPIPE after the child died: the exit event reports the loss.
    child.stdin!.on('error', (error) => this.deps.logger.debug('backend stdin error', { error }));
    child.once('spawn', () => {
      this.startedAt = this.clock.now();
      this.transition('running', { pid: child.pid });
      this.statusHandler({ state: 'up', newProcess: true, detail: `pid ${child.pid}` });
    });
    child.once('error', (error) => finish(`failed to start "${this.config.command}": ${error.message}`));
    child.once('exit', (code, signal) =>
      finish(signal ? `child killed by signal ${signal}` : `child exited with code ${code}`),
    );
  }

  private onExit(child: ChildProcess | undefined, reason: string): void {
    if (child && this.child === child) {
      this.killGroup('SIGKILL');
      this.child = undefined;
    }
    this.queue = [];
    this.queuedChars = 0;
    const wasRunning = this.state === 'running';
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.transition('stopped', { reason });
      return;
    }
    if (wasRunning && this.clock.now() - this.startedAt >= STABLE_RUN_MS) this.backoff.reset();
    const delay = this.backoff.next();
    this.transition('waiting', { reason, retryInMs: delay });
    this.statusHandler({ state: 'down', reason, retryInMs: delay });
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.state === 'waiting') this.launch();
    }, delay);
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return this.exited;
    const child = this.child;
    this.transition('stopping');
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    process.off('exit', this.killGroupOnExit);
    if (!child) {
      this.transition('stopped');
      return;
    }
    child.stdin?.end();
    this.killGroup('SIGTERM');
    const timer = setTimeout(() => this.killGroup('SIGKILL'), STOP_KILL_AFTER_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

export function createSpawnBackend(config: ResolvedSpawnBackend, deps: BackendDeps): StreamBackend {
  return new SpawnBackend(config, deps);
}
