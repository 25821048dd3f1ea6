/**
 * One run of the "container": a real child process whose stdio plays the container's stdio, with
 * the attach semantics measured on a real kubelet (see shared/docs/ATTACH.md):
 * - every attacher receives all of stdout and stderr; their stdin writes merge into one pipe;
 * - output written while nobody is attached is dropped (attach has no buffer);
 * - detaching sends nothing to stdin (stdinOnce: false): the process lives on;
 * - stdout reaches attachers in frames of at most 32,768 bytes that bundle lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const STDOUT_FRAME_BYTES = 32_768;
/** How an `initialize` request reaches stdin from JSON.stringify (the proxy and the SDK write it so). */
const INITIALIZE = Buffer.from('"method":"initialize"');

/** What an attach session receives from the container. */
export interface Attacher {
  stdout(frame: Buffer): void;
  stderr(frame: Buffer): void;
  /** The process exited: the session ends like a normal close (status Success, close 1000). */
  exited(): void;
}

export interface ContainerExit {
  readonly exitCode: number;
  readonly signal?: NodeJS.Signals;
}

export interface ContainerCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export class ContainerProcess {
  readonly containerID = `containerd://${randomBytes(32).toString('hex')}`;
  readonly startedAt = new Date().toISOString();
  private readonly child: ChildProcess;
  private readonly attachers = new Set<Attacher>();
  private alive = true;
  private stdinTail: Buffer = Buffer.alloc(0);
  /** `initialize` requests that reached this process's stdin: proves whether a re-attach re-initialized. */
  initializeCount = 0;
  /** Complete stdin lines this process received (including empty ones). */
  stdinLines = 0;
  /** Bytes of stdout the process wrote while nobody was attached. */
  droppedStdoutBytes = 0;
  readonly exit: Promise<ContainerExit>;

  constructor(command: ContainerCommand) {
    this.child = spawn(command.command, [...command.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...command.env },
    });
    // A write racing the process's death must not crash the emulator (EPIPE).
    this.child.stdin!.on('error', () => {});
    this.child.stdout!.on('data', (chunk: Buffer) => this.fanOut(chunk, 'stdout'));
    this.child.stderr!.on('data', (chunk: Buffer) => this.fanOut(chunk, 'stderr'));
    this.exit = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.alive = false;
        for (const attacher of [...this.attachers]) attacher.exited();
        this.attachers.clear();
        resolve({ exitCode: code ?? (signal === 'SIGKILL' ? 137 : 143), ...(signal ? { signal } : {}) });
      });
    });
  }

  get running(): boolean {
    return this.alive;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  attach(attacher: Attacher): () => void {
    this.attachers.add(attacher);
    return () => this.attachers.delete(attacher);
  }

  get attachedCount(): number {
    return this.attachers.size;
  }

  /**
   * Writes to the process's stdin; false when the pipe is full and the process is not reading: the
   * caller stops reading its side until `stdinDrained` (the kubelet's copy blocks the same way, so
   * TCP flow control carries the backpressure back to the attacher).
   */
  writeStdin(data: Buffer): boolean {
    if (!this.alive) return true;
    this.observeStdin(data);
    return this.child.stdin!.write(data);
  }

  /** Calls `callback` once the process has taken what stdin held when `writeStdin` returned false. */
  stdinDrained(callback: () => void): void {
    this.child.stdin!.once('drain', callback);
  }

  /** Stops the process (SIGSTOP, as a cgroup freeze or a debugger would): it reads and writes nothing. */
  freeze(): void {
    if (this.alive) this.child.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.alive) this.child.kill('SIGCONT');
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ContainerExit> {
    if (this.alive) {
      this.child.kill(signal);
      // A frozen process would not act on the signal before it runs again.
      if (signal !== 'SIGKILL') this.child.kill('SIGCONT');
    }
    return this.exit;
  }

  private fanOut(chunk: Buffer, stream: 'stdout' | 'stderr'): void {
    if (this.attachers.size === 0) {
      if (stream === 'stdout') this.droppedStdoutBytes += chunk.length;
      return;
    }
    for (let offset = 0; offset < chunk.length; offset += STDOUT_FRAME_BYTES) {
      const frame = chunk.subarray(offset, offset + STDOUT_FRAME_BYTES);
      for (const attacher of this.attachers) attacher[stream](frame);
    }
  }

  /**
   * Counts lines and `initialize` requests on bytes, without decoding: the emulator sits in the
   * benchmark's data path and must cost little. A short tail of the previous chunk is kept so a
   * method name split across chunks is still seen.
   */
  private observeStdin(data: Buffer): void {
    for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) this.stdinLines += 1;
    const keep = INITIALIZE.length - 1;
    if (this.stdinTail.length > 0 && Buffer.concat([this.stdinTail, data.subarray(0, keep)]).includes(INITIALIZE)) {
      this.initializeCount += 1;
    }
    for (let i = data.indexOf(INITIALIZE); i !== -1; i = data.indexOf(INITIALIZE, i + 1)) this.initializeCount += 1;
    this.stdinTail = data.length >= keep
      ? Buffer.from(data.subarray(data.length - keep))
      : Buffer.concat([this.stdinTail, data]).subarray(-keep);
  }
}
