/**
 * The real proxy (config → attach backend → multiplexer → HTTP front) in front of the API emulator,
 * with real MCP SDK clients: the attach-specific failures of issue 4, end to end.
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { AttachBackendConfig, ProxyConfig } from '../../proxy/src/config.ts';
import { createLogger } from '../../proxy/src/log.ts';
import { startProxy, type RunningProxy } from '../../proxy/src/main.ts';
import { connectClient, MCP_HEADERS, raw, rawPost, rawSession, samplingClients, textOf, waitFor, type TestProxy } from '../support/proxy-harness.ts';
import { asksLater, reportsMethods } from './containers.ts';
import { startKubeApiEmulator, type KubeApiEmulator, type KubeApiEmulatorOptions } from '../support/kube-api-emulator/index.ts';

jest.setTimeout(60_000);

interface Setup {
  readonly kube: KubeApiEmulator;
  readonly proxy: RunningProxy;
  readonly logs: Record<string, unknown>[];
  /** The shape `connectClient` takes. */
  readonly handle: TestProxy;
}

let setup: Setup | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await setup?.proxy.shutdown(0);
  await setup?.kube.stop();
  setup = undefined;
});

async function start(
  options: KubeApiEmulatorOptions = {},
  backend: Partial<AttachBackendConfig> = {},
  overrides: Partial<ProxyConfig> = {},
  configure: (kube: KubeApiEmulator) => void = () => {},
): Promise<Setup> {
  const kube = await startKubeApiEmulator(options);
  configure(kube);
  const logs: Record<string, unknown>[] = [];
  const proxy = await startProxy({
    server: 'everything',
    backend: {
      type: 'attach', namespace: kube.namespace, pod: kube.podName(), kubeconfig: kube.kubeconfigPath,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, ...backend,
    },
    listen: { host: '127.0.0.1', port: 0, metricsPort: 0 },
    ...overrides,
  }, { logger: createLogger({ level: 'info', write: (line) => { logs.push(JSON.parse(line) as Record<string, unknown>); } }) });
  const handle = { proxy, mcpUrl: `${proxy.url}/mcp` } as TestProxy;
  setup = { kube, proxy, logs, handle };
  return setup;
}

async function client(s: Setup): Promise<Client> {
  const c = await connectClient(s.handle);
  clients.push(c);
  return c;
}

/** Clients a and b, both able to sample, closed after the test. */
async function samplingPair(s: Setup): Promise<{ a: Client; b: Client; asked: string[] }> {
  const pair = await samplingClients(s.handle);
  clients.push(pair.a, pair.b);
  return pair;
}

const readyz = async (s: Setup): Promise<{ status: number; text: string }> => raw(`${s.proxy.url}/readyz`);

/** Lines the server wrote to stderr (reportsMethods() reports what it receives there). */
const stderrCount = (s: Setup, line: string): number => s.logs.filter((l) => l.msg === 'server stderr' && l.stderr === line).length;

interface Question { readonly signal: AbortSignal; answer(text: string): void }

/** A client able to sample that holds each question until the test answers it. */
async function questionedClient(s: Setup): Promise<{ c: Client; questions: Question[] }> {
  const c = await connectClient(s.handle, { name: 'questioned', sampling: true });
  clients.push(c);
  const questions: Question[] = [];
  c.setRequestHandler(CreateMessageRequestSchema, (_request, extra) => new Promise((resolve) => {
    questions.push({ signal: extra.signal, answer: (text) => resolve({ model: 'm', role: 'assistant', content: { type: 'text', text } }) });
  }));
  return { c, questions };
}

/** The attach connection drops while the process lives, and stays down (403) until `allow`. */
async function detach(s: Setup): Promise<{ allow(): Promise<void> }> {
  s.kube.faults.forbid('get', 'pods/attach');
  s.kube.faults.dropAttachments();
  await waitFor(() => !s.proxy.ready(), 5_000, 'down');
  return {
    async allow() {
      s.kube.faults.allow('get', 'pods/attach');
      await waitFor(() => s.proxy.ready(), 10_000, 're-attached');
    },
  };
}

interface Outcome { readonly startedAt: number; settledAt?: number; ok?: boolean; error?: string }

describe('proxy over the attach backend', () => {
  test('a container killed under load: every request in flight fails within 1 s, then service resumes without a proxy restart', async () => {
    const s = await start();
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const sessions = await Promise.all(Array.from({ length: 8 }, () => client(s)));
    const outcomes: Outcome[] = [];
    const track = (call: () => Promise<unknown>): Promise<void> => {
      const outcome: Outcome = { startedAt: Date.now() };
      outcomes.push(outcome);
      return call().then(
        () => { outcome.ok = true; },
        (e: Error) => { outcome.ok = false; outcome.error = e.message; },
      ).finally(() => { outcome.settledAt = Date.now(); });
    };
    // Load: long operations that are surely in flight at the kill, plus a stream of echoes.
    const long = sessions.map((c) => track(() => c.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 1 } }, undefined, { timeout: 60_000 })));
    let loading = true;
    const echoLoops = sessions.map(async (c, i) => {
      for (let n = 0; loading && n < 10_000; n++) {
        await track(() => c.callTool({ name: 'echo', arguments: { message: `load-${i}-${n}` } }));
        if (!s.proxy.ready()) await new Promise((r) => setTimeout(r, 20));
      }
    });
    await waitFor(() => s.proxy.mux!.inFlight >= 8 && outcomes.filter((o) => o.ok).length >= 50, 15_000, 'load running');

    // WHEN the container's process is killed
    const killedAt = Date.now();
    await s.kube.faults.killContainer('SIGKILL');
    await Promise.all(long);
    const pendingAtKill = outcomes.filter((o) => o.startedAt <= killedAt && (o.settledAt ?? Infinity) > killedAt);

    // THEN every request in flight at the kill was answered within 1 s, the long ones with an error
    const readiness = await readyz(s);
    expect(pendingAtKill.length).toBeGreaterThanOrEqual(8);
    for (const o of pendingAtKill) expect((o.settledAt ?? Infinity) - killedAt).toBeLessThan(1000);
    for (const o of outcomes.slice(0, 8)) expect(o).toMatchObject({ ok: false, error: expect.stringMatching(/output written while detached is lost/) });
    // AND readiness went false
    expect(readiness.status).toBe(503);

    // AND the proxy recovers by itself: the same sessions work against the new process
    await waitFor(async () => (await readyz(s)).status === 200, 15_000, 'ready again');
    loading = false;
    await Promise.all(echoLoops);
    const after = await Promise.all(sessions.map((c, i) => c.callTool({ name: 'echo', arguments: { message: `after-${i}` } })));
    after.forEach((result, i) => expect(textOf(result)).toBe(`Echo: after-${i}`));
    expect(s.kube.pod().object!.status.containerStatuses[0]!.restartCount).toBe(1);
    expect(s.kube.initializeCount()).toBe(2);
  });

  test('a dropped WebSocket while the server lives: re-attached without a second initialize', async () => {
    const s = await start();
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const c = await client(s);
    expect(textOf(await c.callTool({ name: 'echo', arguments: { message: 'before' } }))).toBe('Echo: before');
    const inFlight = c.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 1 } }).catch((e: Error) => e);
    await waitFor(() => s.proxy.mux!.inFlight === 1, 5_000, 'request in flight');
    // WHEN the attach connection drops abruptly
    expect(s.kube.faults.dropAttachments()).toBe(1);
    // THEN the request in flight is told its reply is lost, and the proxy re-attaches
    expect(String(await inFlight)).toMatch(/attach connection lost.*output written while detached is lost/);
    await waitFor(async () => (await readyz(s)).status === 200 && s.kube.attachSessions().length === 1, 15_000, 're-attached');
    expect(textOf(await c.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('Echo: after');
    // AND the live process was not initialized again
    expect(s.kube.initializeCount()).toBe(1);
    expect(s.kube.pod().processes).toHaveLength(1);
    expect(s.logs.filter((l) => l.msg === 'backend lifecycle' && l.to === 'handshaking')).toHaveLength(1);
  });

  test("after a dropped connection, the live server's question about a failed call reaches no other client", async () => {
    // GIVEN a server that asks for sampling 3 s into a call, with no progress token
    const s = await start({ command: asksLater(3_000, 4_500) });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const { a, b, asked } = await samplingPair(s);
    // WHEN a's call is cut off by a dropped connection (the process lives on, and will ask)
    const aCall = a.callTool({ name: 'later', arguments: {} }, undefined, { timeout: 10_000 }).catch((e: Error) => e);
    await waitFor(() => s.proxy.mux!.inFlight === 1, 5_000, "a's call in flight");
    expect(s.kube.faults.dropAttachments()).toBe(1);
    expect(String(await aCall)).toMatch(/backend unavailable: attach connection lost/);
    // AND b's call is the only one in flight when the server asks
    await waitFor(() => s.proxy.ready(), 5_000, 're-attached');
    const bCall = b.callTool({ name: 'slow', arguments: {} }, undefined, { timeout: 10_000 });
    await waitFor(() => s.logs.some((l) => l.msg === 'server request not delivered'), 5_000, 'the server request refused');
    await bCall;
    // THEN b never saw a question about a's call
    expect(asked).toEqual([]);
    expect(s.logs.find((l) => l.msg === 'server request not delivered')!.reason).toMatch(/may still be working on requests of 1 other session\(s\)/);
  });

  test('after the container restarts, nothing of the old process holds back the new one\'s questions', async () => {
    const s = await start({ command: asksLater(2_000, 0) });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const { a, b, asked } = await samplingPair(s);
    // GIVEN a's call failed with the process that was working on it
    const aCall = a.callTool({ name: 'later', arguments: {} }, undefined, { timeout: 10_000 }).catch((e: Error) => e);
    await waitFor(() => s.proxy.mux!.inFlight === 1, 5_000, "a's call in flight");
    await s.kube.faults.killContainer();
    expect(await aCall).toBeInstanceOf(Error);
    // WHEN the new process asks about b's call
    await waitFor(() => s.proxy.ready(), 15_000, 'the new process ready');
    const bCall = b.callTool({ name: 'later', arguments: {} }, undefined, { timeout: 10_000 }).catch((e: Error) => e);
    // THEN b is asked: the old process's abandoned work died with it
    await waitFor(() => asked.length > 0, 5_000, 'b asked');
    expect(asked).toEqual(['b']);
    void bCall;
  });

  test('a subscription whose session ended while detached is dropped from the live process on re-attach', async () => {
    const s = await start({ command: reportsMethods() });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const got = (method: string): number => s.logs.filter((l) => l.msg === 'server stderr' && String(l.stderr).startsWith(`got ${method} `)).length;
    const session = await rawSession(s.handle.mcpUrl);
    expect((await rawPost(s.handle.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: 'test://a' } })).status).toBe(200);
    await waitFor(() => got('resources/subscribe') === 1, 5_000, 'subscribed');
    // WHEN the connection drops and stays down (403) while the only subscriber's session ends
    const outage = await detach(s);
    expect((await raw(s.handle.mcpUrl, { method: 'DELETE', headers: { ...MCP_HEADERS, 'mcp-session-id': session } })).status).toBe(200);
    // THEN the re-attach to the same process unsubscribes it
    await outage.allow();
    await waitFor(() => stderrCount(s, 'got resources/unsubscribe test://a') > 0, 5_000, 'unsubscribed');
    expect(s.kube.pod().processes).toHaveLength(1);
    expect(got('initialize')).toBe(1);
  });

  test('a call cut off by a dropped connection is cancelled in the live process on re-attach', async () => {
    const s = await start({ command: reportsMethods() });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const session = await rawSession(s.handle.mcpUrl);
    const call = rawPost(s.handle.mcpUrl, session, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'hang', arguments: {} } });
    await waitFor(() => s.proxy.mux!.inFlight === 1, 5_000, 'the call in flight');
    s.kube.faults.dropAttachments();
    expect((await call).json().error.message).toMatch(/attach connection lost/);
    await waitFor(() => stderrCount(s, 'got notifications/cancelled ') > 0, 10_000, 'the cancellation');
    expect(s.kube.pod().processes).toHaveLength(1);
  });

  test('work cut off by a dropped connection holds back unmarked questions until a re-attach, however long the outage', async () => {
    const s = await start({ command: reportsMethods() }, {}, { limits: { requestTimeoutMs: 300 } });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const session = await rawSession(s.handle.mcpUrl);
    const call = rawPost(s.handle.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hang', arguments: {} } });
    await waitFor(() => s.proxy.mux!.inFlight === 1, 5_000, 'the call in flight');
    // WHEN the connection drops and stays down for longer than the request timeout
    const outage = await detach(s);
    expect((await call).json().error.message).toMatch(/attach connection lost/);
    await new Promise((resolve) => setTimeout(resolve, 900));
    // THEN the live process may still be working on the call: its session still counts
    expect(s.proxy.mux!.abandonedSessions).toBe(1);
    // AND the re-attach tells the process to cancel it; only the grace is left
    await outage.allow();
    await waitFor(() => stderrCount(s, 'got notifications/cancelled ') > 0, 10_000, 'the cancellation');
    expect(s.proxy.mux!.abandonedSessions).toBe(1);
  });

  test('a cancellation written into a connection that had silently died is sent again on re-attach', async () => {
    // Request timeout 300 ms; a half-open connection is noticed after 1 s without traffic.
    const s = await start({ command: reportsMethods() }, { idleProbeMs: 1_000 }, { limits: { requestTimeoutMs: 300 } });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const session = await rawSession(s.handle.mcpUrl);
    const cancelled = (): number => stderrCount(s, 'got notifications/cancelled ');
    // GIVEN the connection half-open (nothing passes, nothing is closed) while a call runs
    const call = rawPost(s.handle.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hang', arguments: {} } });
    await waitFor(() => s.proxy.mux!.inFlight === 1, 5_000, 'the call in flight');
    expect(s.kube.faults.stallAttachments()).toBe(1);
    // WHEN the call times out in the proxy: its cancellation goes into the dead connection
    expect((await call).json().error.message).toMatch(/timed out/);
    // THEN once the probe has found the connection dead and the backend re-attached to the same
    // process, the cancellation reaches it
    await waitFor(() => cancelled() === 1, 15_000, 'the cancellation sent again');
    expect(s.kube.pod().processes).toHaveLength(1);
  });

  test.each(['while detached', 'after the re-attach'])("a client's answer to the live server's question reaches it across a dropped connection (answered %s)", async (when) => {
    const s = await start({ command: reportsMethods() });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const { c, questions } = await questionedClient(s);
    // GIVEN the server's question is with the client
    await c.callTool({ name: 'ask', arguments: {} });
    await waitFor(() => questions.length === 1, 5_000, 'the question asked');
    // WHEN the connection drops while the process lives on, and the client answers
    const outage = await detach(s);
    if (when === 'while detached') {
      questions[0]!.answer('sampled');
      await waitFor(() => s.proxy.mux!.heldForServer === 1, 5_000, 'the answer held');
    }
    await outage.allow();
    if (when === 'after the re-attach') questions[0]!.answer('sampled');
    // THEN the process that asked gets the answer, once
    await waitFor(() => stderrCount(s, 'got answer question-1 sampled') === 1, 5_000, 'the answer');
    expect(s.proxy.mux!.heldForServer).toBe(0);
    expect(questions[0]!.signal.aborted).toBe(false);
    expect(s.kube.pod().processes).toHaveLength(1);
  });

  test('a roots change announced while detached reaches the live process on re-attach', async () => {
    const s = await start({ command: reportsMethods() });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const session = await rawSession(s.handle.mcpUrl);
    const outage = await detach(s);
    expect((await rawPost(s.handle.mcpUrl, session, { jsonrpc: '2.0', method: 'notifications/roots/list_changed' })).status).toBe(202);
    expect(stderrCount(s, 'got notifications/roots/list_changed ')).toBe(0);
    await outage.allow();
    await waitFor(() => stderrCount(s, 'got notifications/roots/list_changed ') === 1, 5_000, 'the notification');
  });

  test('when the container restarts, its questions are withdrawn from the client and nothing meant for it reaches the new process', async () => {
    const s = await start({ command: reportsMethods() });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const { c, questions } = await questionedClient(s);
    // GIVEN two questions of the server with the client
    await c.callTool({ name: 'ask', arguments: {} });
    await c.callTool({ name: 'ask', arguments: {} });
    await waitFor(() => questions.length === 2, 5_000, 'the questions asked');
    // WHEN the client answers one while detached, and the container restarts meanwhile
    const outage = await detach(s);
    questions[0]!.answer('for the old process');
    await waitFor(() => s.proxy.mux!.heldForServer === 1, 5_000, 'the answer held');
    await s.kube.faults.killContainer();
    await outage.allow();
    // THEN the unanswered question is withdrawn from the client (notifications/cancelled)
    await waitFor(() => questions[1]!.signal.aborted, 5_000, 'the question withdrawn');
    expect(String(questions[1]!.signal.reason)).toContain('the server process that sent sampling/createMessage was replaced');
    // AND the new process, initialized afresh, got no answer to a question it never asked
    await waitFor(() => stderrCount(s, 'got initialize ') === 2, 5_000, 'the new process initialized');
    expect(s.proxy.mux!.heldForServer).toBe(0);
    expect(s.logs.filter((l) => l.msg === 'server stderr' && String(l.stderr).startsWith('got answer'))).toEqual([]);
    expect(s.kube.pod().object!.status.containerStatuses[0]!.restartCount).toBe(1);
  });

  test('requests waiting for the backend count toward maxInFlight one by one, a batch by its size', async () => {
    const s = await start({}, {}, { limits: { maxInFlight: 10, backendWaitMs: 10_000 } });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const session = await rawSession(s.handle.mcpUrl, '2025-03-26');
    const batch = (n: number): unknown[] => Array.from({ length: 8 }, (_, i) => (
      { jsonrpc: '2.0', id: `${n}-${i}`, method: 'tools/call', params: { name: 'echo', arguments: { message: `${n}-${i}` } } }));
    // GIVEN a batch of 8 waiting for the backend
    const outage = await detach(s);
    const first = rawPost(s.handle.mcpUrl, session, batch(1));
    await waitFor(() => s.proxy.mux!.lifecycle.waiting === 8, 5_000, 'the first batch waiting');
    // WHEN another batch of 8 comes: 16 would be over 10
    const second = await rawPost(s.handle.mcpUrl, session, batch(2));
    // THEN it is refused at once, and the first is answered once the backend is back
    expect(second.status).toBe(503);
    expect(second.json().error.message).toContain('limits.maxInFlight 10');
    await outage.allow();
    const reply = await first;
    expect(reply.status).toBe(200);
    expect(reply.json()).toHaveLength(8);
  });

  test('fails readiness on a 403 and logs the missing verb and resource', async () => {
    const s = await start({}, {}, { limits: { backendWaitMs: 300 } }, (kube) => kube.faults.forbid('get', 'pods/attach'));
    await waitFor(() => s.logs.some((l) => l.msg === 'attach forbidden: missing permission'), 10_000, 'the 403 log line');
    const line = s.logs.find((l) => l.msg === 'attach forbidden: missing permission')!;
    expect(line).toMatchObject({ level: 'error', missingPermission: 'get pods/attach "everything-0" in namespace "mcp-servers"' });
    const readiness = await readyz(s);
    expect(readiness.status).toBe(503);
    expect(readiness.text).toContain('403 Forbidden: missing permission get pods/attach');
    expect(s.proxy.ready()).toBe(false);
  });

  test('works with a v4-only API server', async () => {
    const s = await start({ protocols: ['v4'] });
    await waitFor(() => s.proxy.ready(), 15_000, 'proxy ready');
    const c = await client(s);
    expect((await c.listTools()).tools.map((t) => t.name)).toContain('echo');
    expect(textOf(await c.callTool({ name: 'echo', arguments: { message: 'v4 only' } }))).toBe('Echo: v4 only');
    expect(s.kube.negotiatedProtocols().every((p) => p === 'v4.channel.k8s.io')).toBe(true);
  });
});
