/**
 * Limits: sessions, requests in flight, a server that stops reading its stdin, a backend that never
 * becomes ready, idle session expiry.
 * Each breach is a clear HTTP status with a JSON-RPC error body, and the proxy keeps serving.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { backends, spawnBackend, type BackendFixture } from '../support/backends.ts';
import { MCP_HEADERS, raw, rawPost, rawSession, startTestProxy, textOf, waitFor, type TestProxy } from '../support/proxy-harness.ts';

const initialize = (mcpUrl: string) =>
  raw(mcpUrl, {
    method: 'POST',
    headers: { ...MCP_HEADERS },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
  });

const longCall = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 0.8, steps: 1 } } });

describe('limits', () => {
  let proxy: TestProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('refuses sessions beyond maxSessions with 503 and Retry-After, and accepts again after one ends', async () => {
    proxy = await startTestProxy(spawnBackend, { limits: { maxSessions: 3 } });
    const sessions = await Promise.all([1, 2, 3].map(() => rawSession(proxy!.mcpUrl)));
    const refused = await initialize(proxy.mcpUrl);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(refused.json().error.message).toContain('maxSessions');
    await raw(proxy.mcpUrl, { method: 'DELETE', headers: { 'mcp-session-id': sessions[0] } });
    expect((await initialize(proxy.mcpUrl)).status).toBe(200);
  });

  it('refuses requests beyond maxInFlight with 503 and Retry-After', async () => {
    proxy = await startTestProxy(spawnBackend, { limits: { maxInFlight: 2 } });
    const session = await rawSession(proxy.mcpUrl);
    const running = [rawPost(proxy.mcpUrl, session, longCall(1)), rawPost(proxy.mcpUrl, session, longCall(2))];
    await waitFor(() => proxy!.proxy.mux!.inFlight === 2, 5_000, 'two requests in flight');
    const refused = await rawPost(proxy.mcpUrl, session, longCall(3));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json().error.message).toContain('maxInFlight');
    for (const reply of await Promise.all(running)) expect(reply.json().result).toBeDefined();
    expect((await rawPost(proxy.mcpUrl, session, longCall(4))).json().result).toBeDefined();
    const metrics = await proxy.proxy.telemetry.prometheus.registry.metrics();
    expect(metrics).toMatch(/toolhive_mcp_requests_total\{server="everything",method="tools\/call",status="rejected",transport="streamable-http"\} 1/);
  });

  it('answers 503 naming the cause when the backend does not become ready in backendWaitMs', async () => {
    const broken: BackendFixture = {
      name: 'broken',
      async start() {
        return {
          config: { type: 'spawn', command: process.execPath, args: ['-e', 'process.exit(3)'], restart: { initialDelayMs: 100, maxDelayMs: 200 } },
          crash: async () => {},
          stop: async () => {},
        };
      },
    };
    const backend = await broken.start();
    const { startProxy } = await import('../../proxy/src/main.ts');
    const { silentLogger } = await import('../../proxy/src/log.ts');
    const running = await startProxy({ server: 'broken', backend: backend.config, listen: { host: '127.0.0.1', port: 0, metricsPort: 0 }, limits: { backendWaitMs: 300 } }, { logger: silentLogger });
    try {
      await waitFor(() => running.mux!.lifecycle.state === 'down', 5_000, 'backend down');
      const started = Date.now();
      const reply = await initialize(`${running.url}/mcp`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(reply.status).toBe(503);
      expect(reply.headers.get('retry-after')).toBeTruthy();
      expect(reply.json().error.message).toContain('child exited with code 3');
      const readyz = await raw(`${running.url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(readyz.text).toContain('child exited with code 3');
      expect((await raw(`${running.url}/healthz`)).status).toBe(200);
    } finally {
      await running.shutdown(0);
    }
  });

  it('fails to start on a port in use, leaving no server process behind', async () => {
    const { startProxy } = await import('../../proxy/src/main.ts');
    const { silentLogger } = await import('../../proxy/src/log.ts');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const marker = `marker-${randomUUID()}`;
    try {
      await expect(
        startProxy({ server: 'taken', backend: { type: 'spawn', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)', marker] }, listen: { host: '127.0.0.1', port, metricsPort: 0 } }, { logger: silentLogger }),
      ).rejects.toThrow(/EADDRINUSE/);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(marker);
    } finally {
      blocker.close();
    }
  });

  it('listens with a deep accept queue: the kernel holds a burst of connections instead of dropping their SYNs', async () => {
    const { LISTEN_BACKLOG } = await import('../../proxy/src/main.ts');
    proxy = await startTestProxy(spawnBackend);
    const port = new URL(proxy.mcpUrl).port;
    // For a listening socket, ss reports the accept queue's size in the Send-Q column.
    const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
    const [state, , sendQ] = line.split(/\s+/);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect([state, Number(sendQ)]).toEqual(['LISTEN', Math.min(LISTEN_BACKLOG, somaxconn)]);
    expect(Number(sendQ)).toBeGreaterThan(511); // Node's default
  });

  it('expires idle sessions (404 afterwards)', async () => {
    proxy = await startTestProxy(spawnBackend, { limits: { sessionIdleTimeoutMs: 200 } });
    const session = await rawSession(proxy.mcpUrl);
    expect((await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(200);
    await waitFor(() => proxy!.proxy.mux!.sessions.get(session) === undefined, 5_000, 'session expired');
    expect((await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 2, method: 'ping' })).status).toBe(404);
  });

  it('does not expire a session whose GET stream is open', async () => {
    proxy = await startTestProxy(spawnBackend, { limits: { sessionIdleTimeoutMs: 200 } });
    const session = await rawSession(proxy.mcpUrl);
    const controller = new AbortController();
    const stream = await fetch(proxy.mcpUrl, { headers: { accept: 'text/event-stream', 'mcp-session-id': session }, signal: controller.signal });
    expect(stream.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(proxy.proxy.mux!.sessions.get(session)).toBeDefined();
    controller.abort();
  });
});

describe.each(backends)('a server that stops reading its stdin ($name backend)', (fixture) => {
  let proxy: TestProxy | undefined;
  let thaw: (() => void) | undefined;
  afterEach(async () => {
    thaw?.();
    thaw = undefined;
    await proxy?.close();
    proxy = undefined;
  });

  const echo = (id: number, message: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } });

  it('is not ready and refuses new requests with 503 while the backlog is over the limit, and answers every request it took once the server reads again', async () => {
    const limit = 1024 * 1024;
    proxy = await startTestProxy(fixture, { limits: { maxStdinBacklogBytes: limit } });
    const mux = proxy.proxy.mux!;
    const session = await rawSession(proxy.mcpUrl);
    expect(mux.stdinBacklog).toBe(0);
    thaw = proxy.backend.freeze!(proxy.proxy);

    // The pipe, and for attach the TCP buffers on the way to the emulated kubelet, fill first; then
    // what the proxy holds grows.
    const payload = (id: number): string => `${id}:`.padEnd(256 * 1024, 'x');
    const taken: ReturnType<typeof rawPost>[] = [];
    for (let id = 1; mux.stdinBacklog < limit; id++) {
      if (id > 400) throw new Error(`the backlog stayed at ${mux.stdinBacklog} bytes after ${id - 1} requests`);
      taken.push(rawPost(proxy.mcpUrl, session, echo(id, payload(id))));
      await waitFor(() => mux.inFlight === id, 5_000, `request ${id} in flight`);
    }

    const refused = await rawPost(proxy.mcpUrl, session, echo(10_000, 'small'));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json().error.message).toMatch(/not reading its stdin: \d+ bytes wait for it \(limits.maxStdinBacklogBytes 1048576\); retry later/);
    // What the proxy answers itself is still answered.
    expect((await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 'ping', method: 'ping' })).json()).toEqual({ jsonrpc: '2.0', id: 'ping', result: {} });
    const readyz = await raw(`${proxy.proxy.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(readyz.text).toContain('not ready: the server is not reading its stdin');
    // Below twice the limit a notification is still taken: it is small, and losing it would lose state.
    expect((await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', method: 'notifications/roots/list_changed' })).status).toBe(202);
    // At twice the limit, nothing more is taken.
    const padding = { jsonrpc: '2.0', method: 'notifications/padding', params: { pad: 'y'.repeat(256 * 1024) } };
    for (let sent = 0; mux.stdinBacklog < 2 * limit; sent++) {
      if (sent > 8) throw new Error(`the backlog stayed at ${mux.stdinBacklog} bytes`);
      expect((await rawPost(proxy.mcpUrl, session, padding)).status).toBe(202);
    }
    const full = await rawPost(proxy.mcpUrl, session, padding);
    expect([full.status, full.json().error.message]).toEqual([503, expect.stringContaining('not reading its stdin')]);
    const metrics = await proxy.proxy.telemetry.prometheus.registry.metrics();
    const gauge = Number(/toolhive_mcp_backend_stdin_backlog_bytes\{server="everything"\} (\d+)/.exec(metrics)?.[1]);
    expect(gauge).toBeGreaterThanOrEqual(limit);
    expect(metrics).toMatch(/toolhive_mcp_requests_total\{server="everything",method="tools\/call",status="rejected",transport="streamable-http"\} 1/);

    thaw();
    thaw = undefined;
    const replies = await Promise.all(taken);
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect(textOf(reply.json().result)).toContain(payload(i + 1));
    });
    await waitFor(() => mux.stdinBacklog === 0, 5_000, 'the notifications taken too');
    expect((await raw(`${proxy.proxy.url}/readyz`)).status).toBe(200);
    expect(textOf((await rawPost(proxy.mcpUrl, session, echo(10_001, 'after'))).json().result)).toContain('after');
  });
});
