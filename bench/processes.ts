/**
 * Target processes: each runs in its own process group, so stopping it also stops whatever it
 * spawned (the stdio server behind a bridge, supergateway's per-session children). Every group the
 * harness starts is killed on every path: stop(), normal exit, an uncaught error, SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SERVER_EVERYTHING = path.join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
/** Preloaded into every Node target: it kills its group if the harness dies without stopping it. */
const ORPHAN_GUARD = path.join(REPO_ROOT, 'bench/orphan-guard.ts');
/** Preloaded into third-party servers that cannot be told which address to bind. */
export const LOOPBACK_ONLY = path.join(REPO_ROOT, 'bench/loopback-only.ts');

/** Process group ids not yet stopped; kept after the leader exits, as its children may live on. */
const groups = new Set<number>();

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing that can be done there.
  process.on('exit', () => { for (const pgid of groups) killGroup(pgid, 'SIGKILL'); });
}

/** Also makes Ctrl-C and SIGTERM stop the targets; only the CLI installs it (not under jest). */
export function killTargetsOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const pgid of groups) killGroup(pgid, 'SIGKILL');
      process.exit(130);
    });
  }
}

export interface SpawnedTarget {
  readonly child: ChildProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts `command` in a new process group. Output goes to `logFile` (a file, not a pipe, so a chatty
 * target never blocks on a full pipe nor costs the generator CPU) unless `pipeStdio` asks for
 * stdin/stdout pipes (the raw stdio target).
 */
export function spawnTarget(command: string, args: readonly string[], options: { logFile: string; env?: Record<string, string>; pipeStdio?: boolean }): SpawnedTarget {
  hookExit();
  const log = fs.openSync(options.logFile, 'a');
  const stdio: StdioOptions = options.pipeStdio ? ['pipe', 'pipe', log] : ['ignore', log, log];
  const guarded = command === process.execPath ? ['--import', ORPHAN_GUARD, ...args] : args;
  const child = spawn(command, guarded, { cwd: REPO_ROOT, detached: true, stdio, env: { ...process.env, ...options.env } });
  fs.closeSync(log);
  const pgid = child.pid;
  if (pgid === undefined) throw new Error(`could not start ${command}`);
  groups.add(pgid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(pgid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pgid, 'SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    killGroup(pgid, 'SIGKILL'); // children that outlived their parent
    groups.delete(pgid);
  };
  return { child, logFile: options.logFile, stop };
}

/** A port free right now on 127.0.0.1 (the OS picks it; the tiny race with other users is accepted). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `probe` every 100 ms until it returns true, the process exits, or `timeoutMs` passes. */
export async function waitUntil(what: string, target: SpawnedTarget, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (target.child.exitCode !== null || target.child.signalCode !== null) break;
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const tail = fs.existsSync(target.logFile) ? fs.readFileSync(target.logFile, 'utf8').slice(-2000) : '';
  await target.stop();
  throw new Error(`${what} did not become ready within ${timeoutMs} ms (exit code ${target.child.exitCode}); log tail:\n${tail}`);
}
