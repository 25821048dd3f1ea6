/**
 * SIGTERM on the real `toolhive-proxy` process, as its bin and image run it (the compiled
 * proxy/build/cli.js that `npm test` builds first): stop accepting, let requests in flight finish
 * within the grace period, fail the ones that do not, kill the server's process group, exit 0.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EVERYTHING_SERVER } from '../support/everything.ts';
import { raw, rawPost, rawSession, waitFor } from '../support/proxy-harness.ts';

const CLI = fileURLToPath(new URL('../../proxy/build/cli.js', import.meta.url));

interface ProxyProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly serverPid: number;
  readonly exited: Promise<number | null>;
  readonly logs: string[];
}

async function startCli(graceMs: number): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [CLI, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--shutdown-grace-ms', String(graceMs), '--', process.execPath, EVERYTHING_SERVER, 'stdio'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let url = '';
  let serverPid = 0;
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      logs.push(line);
      const record = JSON.parse(line);
      if (record.msg === 'proxy listening') url = record.url;
      if (record.msg === 'spawn backend state' && record.to === 'running') serverPid = record.pid;
    }
  });
  await waitFor(() => url !== '' && serverPid !== 0, 15_000, 'proxy process listening');
  await waitFor(async () => (await raw(`${url}/readyz`)).status === 200, 15_000, 'proxy process ready');
  return { child, url, serverPid, exited, logs };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const longCall = (seconds: number) => ({ jsonrpc: '2.0', id: 'long', method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: seconds, steps: 1 } } });

describe('SIGTERM', () => {
  it('drains: requests in flight finish, new ones are refused, the server is stopped, exit 0', async () => {
    const proxy = await startCli(10_000);
    const mcp = `${proxy.url}/mcp`;
    const session = await rawSession(mcp);
    const inFlight = rawPost(mcp, session, longCall(1.5));
    await new Promise((resolve) => setTimeout(resolve, 300));
    proxy.child.kill('SIGTERM');
    await waitFor(() => proxy.logs.some((line) => line.includes('shutting down: draining')), 5_000, 'draining');

    const refused = await rawPost(mcp, session, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'late' } } }).then(
      (reply) => reply.status,
      () => 'connection refused',
    );
    expect([503, 'connection refused']).toContain(refused);

    const reply = await inFlight;
    expect(reply.json().result.content[0].text).toContain('Long running operation completed');
    expect(await proxy.exited).toBe(0);
    await waitFor(() => !alive(proxy.serverPid), 5_000, 'server process gone');
  });

  it('fails requests still in flight when the grace period ends', async () => {
    const proxy = await startCli(500);
    const mcp = `${proxy.url}/mcp`;
    const session = await rawSession(mcp);
    const inFlight = rawPost(mcp, session, longCall(20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalledAt = Date.now();
    proxy.child.kill('SIGTERM');
    const reply = await inFlight;
    expect(reply.json().error).toMatchObject({ code: -32000, message: expect.stringContaining('shutting down') });
    expect(await proxy.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    await waitFor(() => !alive(proxy.serverPid), 5_000, 'server process gone');
  });
});
