/**
 * The spawn backend on its own, with real processes: the stream contract (lines in order, stderr to
 * logs, send() false while down), restart with a new process after a crash, and the whole process
 * group killed (a server started through a shell leaves no orphans).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { SpawnBackend } from '../../proxy/src/backends/spawn.ts';
import type { BackendStatus } from '../../proxy/src/backends/types.ts';
import { validateProxyConfig } from '../../proxy/src/config.ts';
import { createLogger } from '../../proxy/src/log.ts';
import { waitFor } from '../support/proxy-harness.ts';

/** A line-echo server: prints each stdin line back as {"echo": line}, and one line on stderr at start. */
const ECHO_SCRIPT = `
process.stderr.write('echo server ready\\n');
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  let i;
  while ((i = buffer.indexOf('\\n')) >= 0) {
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    process.stdout.write(JSON.stringify({ echo: line }) + '\\n');
  }
});`;

function backendFor(command: string, args: string[], logs: string[] = [], restartMs = 20) {
  const config = validateProxyConfig({ server: 't', backend: { type: 'spawn', command, args, restart: { initialDelayMs: restartMs, maxDelayMs: restartMs * 2 } } });
  const logger = createLogger({ level: 'debug', write: (line) => void logs.push(line) });
  const backend = new SpawnBackend(config.backend as never, { logger });
  const messages: string[] = [];
  const statuses: BackendStatus[] = [];
  backend.onMessage((message) => messages.push(message));
  backend.onStatus((status) => statuses.push(status));
  return { backend, messages, statuses, logs };
}

const groupMembers = (pgid: number): number[] => {
  try {
    return execFileSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' }).split('\n').map((line) => Number(line.trim())).filter(Boolean);
  } catch {
    return [];
  }
};

describe('spawn backend', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('delivers every stdout line in order, coalescing sends, and logs stderr separately', async () => {
    const { backend, messages, statuses, logs } = backendFor(process.execPath, ['-e', ECHO_SCRIPT]);
    stop = () => backend.stop();
    expect(backend.send('too early')).toBe(false);
    backend.start();
    await waitFor(() => statuses.some((status) => status.state === 'up'), 5_000, 'up');
    expect(statuses[0]).toMatchObject({ state: 'up', newProcess: true });
    for (let i = 0; i < 500; i++) expect(backend.send(`{"n":${i}}`)).toBe(true);
    await waitFor(() => messages.length === 500, 5_000, '500 lines back');
    expect(messages.map((message) => JSON.parse(JSON.parse(message).echo).n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    await waitFor(() => logs.some((line) => line.includes('"msg":"backend stderr"') && line.includes('echo server ready')), 5_000, 'stderr logged');
    expect(messages.some((message) => message.includes('echo server ready'))).toBe(false);
  });

  it('reports a crash with its cause, refuses sends while down, and restarts a new process', async () => {
    // Restart after 0.5–1 s, so the down state lasts long enough to observe.
    const { backend, messages, statuses } = backendFor(process.execPath, ['-e', ECHO_SCRIPT], [], 1_000);
    stop = () => backend.stop();
    backend.start();
    await waitFor(() => backend.pid !== undefined && statuses.length === 1, 5_000, 'up');
    const firstPid = backend.pid!;
    process.kill(firstPid, 'SIGKILL');
    await waitFor(() => statuses.some((status) => status.state === 'down'), 5_000, 'down');
    expect(statuses[1]).toMatchObject({ state: 'down', reason: 'child killed by signal SIGKILL' });
    expect(backend.send('{"lost":true}')).toBe(false);
    await waitFor(() => statuses.filter((status) => status.state === 'up').length === 2, 5_000, 'restarted');
    expect(statuses[2]).toMatchObject({ state: 'up', newProcess: true });
    expect(backend.pid).not.toBe(firstPid);
    backend.send('{"again":true}');
    await waitFor(() => messages.some((message) => message.includes('again')), 5_000, 'works after restart');
  });

  it('kills the whole process group when it stops', async () => {
    const { backend, statuses } = backendFor('sh', ['-c', `sleep 300 & exec "${process.execPath}" -e "${ECHO_SCRIPT.replace(/\n/g, ' ').replace(/"/g, '\\"')}"`]);
    backend.start();
    await waitFor(() => statuses.some((status) => status.state === 'up'), 5_000, 'up');
    const pgid = backend.pid!;
    await waitFor(() => groupMembers(pgid).length === 2, 5_000, 'server and its sleeping sibling in one group');
    await backend.stop();
    await waitFor(() => groupMembers(pgid).length === 0, 5_000, 'group gone');
  });

  it('kills what is left of the group when the server exits, and reports the exit code', async () => {
    const { backend, statuses } = backendFor('sh', ['-c', 'sleep 300 & sleep 0.3; exit 3']);
    stop = () => backend.stop();
    backend.start();
    await waitFor(() => statuses.some((status) => status.state === 'up'), 5_000, 'up');
    const pgid = backend.pid!;
    await waitFor(() => statuses.some((status) => status.state === 'down'), 5_000, 'down');
    expect(statuses.find((status) => status.state === 'down')).toMatchObject({ reason: 'child exited with code 3' });
    await waitFor(() => groupMembers(pgid).length === 0, 5_000, 'orphaned sleep killed');
  });

  it('delivers everything the server wrote before it exited, then reports it down', async () => {
    // 2,000 lines (400 KB) written at once, then exit: the last 64 KiB or so are still in the pipe
    // when the exit is reported. Answers among them are work the server did.
    // (writeSync: process.stdout.write to a pipe may still be queued in the child at its exit.)
    const script = "for (let n = 0; n < 2000; n++) require('node:fs').writeSync(1, JSON.stringify({ n, pad: 'x'.repeat(200) }) + '\\n'); process.exit(0);";
    const { backend, messages, statuses } = backendFor(process.execPath, ['-e', script], [], 60_000);
    stop = () => backend.stop();
    let deliveredAtDown = -1;
    backend.onStatus((status) => {
      statuses.push(status);
      if (status.state === 'down' && deliveredAtDown < 0) deliveredAtDown = messages.length;
    });
    backend.start();
    await waitFor(() => deliveredAtDown >= 0, 5_000, 'down');
    expect(deliveredAtDown).toBe(2000);
    expect(JSON.parse(messages.at(-1)!)).toMatchObject({ n: 1999 });
    expect(statuses.find((status) => status.state === 'down')).toMatchObject({ reason: 'child exited with code 0' });
  });

  it('reports a command that cannot start', async () => {
    const { backend, statuses } = backendFor('/nonexistent/mcp-server', []);
    stop = () => backend.stop();
    backend.start();
    await waitFor(() => statuses.some((status) => status.state === 'down'), 5_000, 'down');
    expect(statuses[0]).toMatchObject({ state: 'down', reason: expect.stringContaining('failed to start "/nonexistent/mcp-server"') });
  });
});
