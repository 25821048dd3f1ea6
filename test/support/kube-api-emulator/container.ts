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
  private stdinTail = '';
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

  writeStdin(data: Buffer): void {
    if (!this.alive) return;
    this.observeStdin(data);
    this.child.stdin!.write(data);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ContainerExit> {
    if (this.alive) this.child.kill(signal);
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

  private observeStdin(data: Buffer): void {
    const text = this.stdinTail + data.toString('utf8');
    const lines = text.split('\n');
    this.stdinTail = lines.pop() ?? '';
    for (const line of lines) {
      this.stdinLines += 1;
      if (/"method"\s*:\s*"initialize"/.test(line)) this.initializeCount += 1;
    }
  }
}
