/**
 * What actually reaches the backend, seen by a server that records every line it receives: one
 * handshake for many clients, no `ping` or `notifications/initialized` from clients, unique ids,
 * cancellations for timed-out and abandoned requests, exact routing of a server request that
 * carries its caller's progress token, and a refusal (never a guess) for one that could be anyone's.
 */
import { describe, expect, it } from '@jest/globals';
import { CreateMessageRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CANCEL_GRACE_MS } from '../../proxy/src/mux/server-requests.ts';
import type { BackendFixture } from '../support/backends.ts';
import { connectClient, MCP_HEADERS, raw, rawPost, rawSession, samplingClients, startTestProxy, textOf, waitFor, useTestProxy } from '../support/proxy-harness.ts';

const RECORDER = fileURLToPath(new URL('../support/recording-server.ts', import.meta.url));

describe('what reaches the backend', () => {
  const log = join(mkdtempSync(join(tmpdir(), 'proxy-recorder-')), 'received.jsonl');
  const received = (): any[] => readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const recorder: BackendFixture = {
    name: 'recorder',
    async start() {
      return { config: { type: 'spawn', command: process.execPath, args: [RECORDER, log] }, crash: async () => {}, stop: async () => {} };
    },
  };
  const proxy = useTestProxy(recorder, { limits: { requestTimeoutMs: 300 } });

  it('sees one handshake for many clients, and none of their pings or initialized notifications', async () => {
    // The proxy's own handshake is done before any client comes (startTestProxy waits for ready; on
    // a loaded machine it may have taken a retry, this suite's request timeout being 300 ms); no
    // client adds one.
    const handshakes = received().filter((m) => m.method === 'initialize').length;
    const sessions = await Promise.all(Array.from({ length: 5 }, () => rawSession(proxy.mcpUrl)));
    await Promise.all(sessions.map((session) => rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'ping' })));
    await Promise.all(sessions.map((session, i) => rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { i } } })));
    const messages = received();
    expect(messages.filter((m) => m.method === 'initialize')).toHaveLength(handshakes);
    expect(messages.filter((m) => m.method === 'notifications/initialized')).toHaveLength(1);
    expect(messages.filter((m) => m.method === 'ping')).toHaveLength(0);
    const calls = messages.filter((m) => m.method === 'tools/call' && m.params.name === 'echo');
    expect(calls).toHaveLength(5);
    expect(new Set(calls.map((m) => m.id)).size).toBe(5);
  });

  it('cancels a timed-out request in the backend with the id the backend knows', async () => {
    const session = await rawSession(proxy.mcpUrl);
    const reply = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 'h', method: 'tools/call', params: { name: 'hang' } });
    expect(reply.json().error.code).toBe(-32001);
    const hang = received().find((m) => m.method === 'tools/call' && m.params.name === 'hang');
    await waitFor(() => received().some((m) => m.method === 'notifications/cancelled' && m.params.requestId === hang.id), 2_000, 'cancellation received');
  });

  it('withdraws a question its client did not answer in time: the client is told, the server gets an error', async () => {
    // Its own proxy: a request the other tests abandoned would keep its question from being delivered.
    const own = await startTestProxy(recorder, { limits: { requestTimeoutMs: 300 } });
    const client = await connectClient(own, { name: 'slow', sampling: true });
    const signals: AbortSignal[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, (_request, extra) => {
      signals.push(extra.signal);
      return new Promise(() => {});
    });
    try {
      // WHEN the client sits on the server's question past the request timeout (300 ms)
      const call = await client.callTool({ name: 'ask', arguments: {} }, undefined, { timeout: 5_000 }).catch((error: Error) => error);
      // THEN the server is answered with an error, and the client is told the question is withdrawn
      expect(call).toBeInstanceOf(Error);
      await waitFor(() => received().some((m) => m.id !== undefined && m.method === undefined && /client did not answer sampling\/createMessage in 300 ms/.test(m.error?.message)), 2_000, 'the error to the server');
      await waitFor(() => signals.length === 1 && signals[0]!.aborted, 2_000, 'the question withdrawn from the client');
      expect(signals[0]!.reason).toMatch(/client did not answer sampling\/createMessage in 300 ms/);
    } finally {
      await client.close();
      await own.close();
    }
  });

  it.each([
    ['a non-string method', '{"jsonrpc":"2.0","method":null}'],
    ['a request with positional params', '{"jsonrpc":"2.0","id":"q","method":"roots/list","params":[1]}'],
    ['a notification with a non-object _meta', '{"jsonrpc":"2.0","method":"notifications/progress","params":{"_meta":7}}'],
  ])('drops a message from the server that is not valid JSON-RPC (%s) and keeps serving', async (_, line) => {
    const session = await rawSession(proxy.mcpUrl);
    const reply = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'write', arguments: { line } } });
    expect(reply.json().result.content[0].text).toContain('echo:');
    const after = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { n: 2 } } });
    expect(after.json().result.content[0].text).toBe('echo: {"n":2}');
  });

  it('cancels the requests of a session that is deleted', async () => {
    const session = await rawSession(proxy.mcpUrl);
    const pending = rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 'x', method: 'tools/call', params: { name: 'hang' } });
    await waitFor(() => proxy.proxy.mux!.inFlight === 1, 2_000, 'in flight');
    const hangs = received().filter((m) => m.method === 'tools/call' && m.params.name === 'hang');
    await raw(proxy.mcpUrl, { method: 'DELETE', headers: { ...MCP_HEADERS, 'mcp-session-id': session } });
    expect((await pending).json().error.code).toBe(-32800);
    await waitFor(() => received().some((m) => m.method === 'notifications/cancelled' && m.params.requestId === hangs.at(-1).id), 2_000, 'cancellation received');
  });

  it('routes server requests carrying their caller’s progress token to the right clients, with many callers at once', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => connectClient(proxy, { name: `asker-${i}`, sampling: true })));
    try {
      clients.forEach((client, i) =>
        client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: 'm', role: 'assistant' as const, content: { type: 'text' as const, text: `client ${i}` } })),
      );
      const results = await Promise.all(clients.map((client) => client.callTool({ name: 'ask', arguments: {} }, undefined, { onprogress: () => {}, timeout: 5_000 })));
      results.forEach((result, i) => expect(textOf(result)).toBe(`client ${i}`));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  describe('with a request timeout longer than each step', () => {
    const patient = useTestProxy(recorder, { limits: { requestTimeoutMs: 10_000 } });

    it('never guesses: without a hint, a server request is refused while two able sessions have requests in flight, and delivered when one has', async () => {
      const { a, b, asked } = await samplingClients(patient);
      try {
        // GIVEN a's call in flight that asks nothing
        const waiting = a.callTool({ name: 'wait', arguments: { ms: 1_500 } }, undefined, { timeout: 5_000 });
        await waitFor(() => patient.proxy.mux!.inFlight === 1, 2_000, 'a in flight');
        // WHEN b's call makes the server ask, with no progress token: a or b could be meant
        const ambiguous = await b.callTool({ name: 'ask', arguments: {} }, undefined, { timeout: 5_000 });
        // THEN the server is told why, and neither client saw the request
        expect(textOf(ambiguous)).toContain('cannot tell which client sampling/createMessage is for: 2 sessions able to answer have requests in flight');
        expect(asked).toEqual([]);
        // AND once a's call is answered, b's request is delivered to b
        expect(textOf(await waiting)).toBe('waited');
        expect(textOf(await b.callTool({ name: 'ask', arguments: {} }, undefined, { timeout: 5_000 }))).toBe('client b');
        expect(asked).toEqual(['b']);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("never shows one client a question about another's abandoned work: refused for a grace after the cancellation", async () => {
      const { a, b, asked } = await samplingClients(patient);
      try {
        // GIVEN a's call, which a gives up on (the proxy tells the server to cancel it)
        const givenUp = await a.callTool({ name: 'wait', arguments: { ms: 60_000 } }, undefined, { timeout: 100 }).catch((error: Error) => error);
        expect(givenUp).toBeInstanceOf(Error);
        await waitFor(() => patient.proxy.mux!.inFlight === 0, 2_000, "a's cancellation");
        expect(patient.proxy.mux!.abandonedSessions).toBe(1);
        // WHEN the server asks during b's call, with no progress token: only b has a request in
        // flight, but the question may be about a's abandoned work
        const refused = await b.callTool({ name: 'ask', arguments: {} }, undefined, { timeout: 5_000 });
        // THEN nobody is asked, and the server is told why
        expect(textOf(refused)).toContain('the server may still be working on requests of 1 other session(s) that ended without its answer');
        expect(asked).toEqual([]);
        // AND once the grace has passed, b is asked
        await waitFor(() => patient.proxy.mux!.abandonedSessions === 0, CANCEL_GRACE_MS + 2_000, 'the grace over');
        expect(textOf(await b.callTool({ name: 'ask', arguments: {} }, undefined, { timeout: 5_000 }))).toBe('client b');
        expect(asked).toEqual(['b']);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('a server request naming an ended call goes to no client, though only one is busy', async () => {
      const { a, b, asked } = await samplingClients(patient);
      try {
        // GIVEN b busy, and a's call answered (the server then asks with that call's progress token)
        const waiting = b.callTool({ name: 'wait', arguments: { ms: 1_500 } }, undefined, { timeout: 5_000 });
        await waitFor(() => patient.proxy.mux!.inFlight === 1, 2_000, 'b in flight');
        expect(textOf(await a.callTool({ name: 'answerThenAsk', arguments: { ms: 200 } }, undefined, { onprogress: () => {}, timeout: 5_000 }))).toBe('answered');
        // THEN the question reaches neither a (whose call has ended) nor b (the only one busy)
        await waiting;
        expect(asked).toEqual([]);
        expect(patient.proxy.mux!.abandonedSessions).toBe(0);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('refuses a second request under an id still in flight in the session', async () => {
      const session = await rawSession(patient.mcpUrl);
      const first = rawPost(patient.mcpUrl, session, { jsonrpc: '2.0', id: 'same', method: 'tools/call', params: { name: 'wait', arguments: { ms: 500 } } });
      await waitFor(() => patient.proxy.mux!.inFlight === 1, 2_000, 'the first in flight');
      const second = await rawPost(patient.mcpUrl, session, { jsonrpc: '2.0', id: 'same', method: 'tools/call', params: { name: 'echo', arguments: {} } });
      expect(second.json().error).toMatchObject({ code: -32600, message: expect.stringContaining('request id "same" is already in flight in this session') });
      // A refused request takes no effect: a subscription under that id is not recorded (ending
      // the session would otherwise unsubscribe the server from it)
      const subscribe = await rawPost(patient.mcpUrl, session, { jsonrpc: '2.0', id: 'same', method: 'resources/subscribe', params: { uri: 'test://refused' } });
      expect(subscribe.json().error.code).toBe(-32600);
      expect((await first).json().result.content[0].text).toBe('waited');
      // Another session may use the same id meanwhile
      const other = await rawSession(patient.mcpUrl);
      expect((await rawPost(patient.mcpUrl, other, { jsonrpc: '2.0', id: 'same', method: 'tools/call', params: { name: 'echo', arguments: {} } })).json().result).toBeDefined();
      await raw(patient.mcpUrl, { method: 'DELETE', headers: { ...MCP_HEADERS, 'mcp-session-id': session } });
      await rawPost(patient.mcpUrl, other, { jsonrpc: '2.0', id: 'after', method: 'tools/call', params: { name: 'echo', arguments: {} } });
      expect(received().filter((m) => m.params?.uri === 'test://refused')).toEqual([]);
    });

    it("a progress token the server made up is never taken for a client's, even when it equals a request's backend id", async () => {
      const { a, b, asked } = await samplingClients(patient);
      try {
        // GIVEN b's call in flight under backend id N, with a progress token of b's
        const waiting = b.callTool({ name: 'wait', arguments: { ms: 1_500 } }, undefined, { onprogress: () => {}, timeout: 5_000 });
        await waitFor(() => patient.proxy.mux!.inFlight === 1, 2_000, 'b in flight');
        const forwarded = received().filter((m) => m.method === 'tools/call' && m.params.name === 'wait').at(-1);
        const backendId: number = forwarded.id;
        const proxyToken: string = forwarded.params._meta.progressToken;
        expect(proxyToken).toBe(`toolhive-proxy/progress/${backendId}`);
        // WHEN a's call makes the server ask with a token of its own that happens to be N, or that
        // spells the proxy's token another way
        for (const token of [backendId, proxyToken.replace(/\/(\d+)$/, '/0$1'), `${proxyToken}.0`]) {
          const reply = await a.callTool({ name: 'askWithToken', arguments: { token } }, undefined, { timeout: 5_000 });
          // THEN b is not asked: with a and b both busy, nobody can be picked
          expect(textOf(reply)).toContain('cannot tell which client sampling/createMessage is for: 2 sessions');
        }
        expect(asked).toEqual([]);
        await waiting;
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('a roots change announced long ago is no evidence for a later roots/list', async () => {
      const [a, b] = await Promise.all(['a', 'b'].map((name) => connectClient(patient, { name, roots: true })));
      const asked: string[] = [];
      for (const [client, name] of [[a, 'a'], [b, 'b']] as const) {
        client.setRequestHandler(ListRootsRequestSchema, async () => { asked.push(name); return { roots: [{ uri: `file:///${name}` }] }; });
      }
      try {
        // GIVEN a announced a roots change that the server did not follow up
        await a.sendRootsListChanged();
        await new Promise((resolve) => setTimeout(resolve, 5_300));
        // WHEN b's call makes the server ask for roots
        const reply = await b.callTool({ name: 'askRoots', arguments: {} }, undefined, { timeout: 5_000 });
        // THEN b, the only one busy, is asked, not a
        expect(textOf(reply)).toContain('file:///b');
        expect(asked).toEqual(['b']);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('a server request naming a call of a client that cannot answer it goes to no other client', async () => {
      const { a, b, asked } = await samplingClients(patient, false);
      try {
        // GIVEN b (able to sample) busy, and a (not able) calling a tool that asks with a's progress token
        const waiting = b.callTool({ name: 'wait', arguments: { ms: 1_500 } }, undefined, { timeout: 5_000 });
        await waitFor(() => patient.proxy.mux!.inFlight === 1, 2_000, 'b in flight');
        const reply = await a.callTool({ name: 'ask', arguments: {} }, undefined, { onprogress: () => {}, timeout: 5_000 });
        // THEN the server is refused, and b never sees a's question
        expect(textOf(reply)).toContain('is for a request of a client that cannot answer it');
        expect(asked).toEqual([]);
        await waiting;
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
