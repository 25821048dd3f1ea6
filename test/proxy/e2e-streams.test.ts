/**
 * End to end: the messages that are not plain request/response. Progress, server-to-client requests
 * (sampling, roots), cancellation, notifications that fan out or go to some sessions only, DELETE.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema, ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema, type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { backends } from '../support/backends.ts';
import { connectClient, raw, rawPost, rawSession, sseMessages, sseReader, startTestProxy, textOf, waitFor, MCP_HEADERS, useTestProxy, type TestProxy } from '../support/proxy-harness.ts';

const sampleAnswer = (text: string) => async () => ({ model: 'test-model', role: 'assistant' as const, content: { type: 'text' as const, text } });

describe.each(backends)('proxy streams over the $name backend', (fixture) => {
  let proxy: TestProxy;
  const clients: Client[] = [];
  const connect = async (options: Parameters<typeof connectClient>[1] = {}) => {
    const client = await connectClient(proxy, options);
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    proxy = await startTestProxy(fixture);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await proxy?.close();
  });

  it('delivers progress of a long-running tool to its own caller only', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const progress: Record<string, Progress[]> = { a: [], b: [] };
    const run = (client: Client, key: string, steps: number) =>
      client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps } }, undefined, { onprogress: (p) => progress[key].push(p) });
    const [ra, rb] = await Promise.all([run(a, 'a', 3), run(b, 'b', 4)]);
    expect(textOf(ra)).toContain('Steps: 3');
    expect(textOf(rb)).toContain('Steps: 4');
    expect(progress.a.map((p) => [p.progress, p.total])).toEqual([[1, 3], [2, 3], [3, 3]]);
    expect(progress.b.map((p) => [p.progress, p.total])).toEqual([[1, 4], [2, 4], [3, 4], [4, 4]]);
  });

  it('streams progress on the POST response when the client asks for it', async () => {
    const session = await rawSession(proxy.mcpUrl);
    const reply = await rawPost(proxy.mcpUrl, session, {
      jsonrpc: '2.0', id: 'p1', method: 'tools/call',
      params: { name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 }, _meta: { progressToken: 'my-token' } },
    });
    expect(reply.headers.get('content-type')).toBe('text/event-stream');
    const events = sseMessages(reply.text);
    expect(events.map((event) => event.method ?? 'response')).toEqual(['notifications/progress', 'notifications/progress', 'response']);
    expect(events[0].params.progressToken).toBe('my-token');
    expect(events[2].id).toBe('p1');
  });

  it('routes a sampling request to the client whose tool call caused it', async () => {
    const a = await connect({ name: 'a', sampling: true });
    const b = await connect({ name: 'b', sampling: true });
    const busy = await connect({ name: 'busy' });
    const asked: string[] = [];
    a.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      asked.push('a');
      return sampleAnswer('answer from a')();
    });
    b.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked.push('b');
      return sampleAnswer('answer from b')();
    });
    // A client without the sampling capability keeps requests in flight meanwhile.
    const noise = Promise.all(Array.from({ length: 30 }, (_, i) => busy.callTool({ name: 'echo', arguments: { message: `n${i}` } })));
    const fromA = await a.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
    expect(JSON.stringify(fromA)).toContain('answer from a');
    const fromB = await b.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
    expect(JSON.stringify(fromB)).toContain('answer from b');
    expect(asked).toEqual(['a', 'b']);
    await noise;
  });

  it('carries a server request on the answer to the POST that caused it when the client opened no GET stream', async () => {
    // GIVEN a client that can sample but never opens a GET stream, and calls a tool without a progress token
    const session = await rawSession(proxy.mcpUrl, '2025-06-18', { sampling: {} });
    try {
      const response = await fetch(proxy.mcpUrl, {
        method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': session },
        body: JSON.stringify({ jsonrpc: '2.0', id: 'call', method: 'tools/call', params: { name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } } }),
      });
      // THEN the answer turns into a stream that carries the sampling request first
      expect([response.status, response.headers.get('content-type')]).toEqual([200, 'text/event-stream']);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const next = async (): Promise<any> => {
        while (!text.includes('\n\n')) {
          const chunk = await reader.read();
          if (chunk.done) throw new Error(`stream ended; read ${JSON.stringify(text)}`);
          text += decoder.decode(chunk.value, { stream: true });
        }
        const block = text.slice(0, text.indexOf('\n\n'));
        text = text.slice(block.length + 2);
        return JSON.parse(block.slice(block.indexOf('data: ') + 6));
      };
      const request = await next();
      expect(request).toMatchObject({ jsonrpc: '2.0', method: 'sampling/createMessage', id: expect.any(Number) });
      // AND once the client answers it (a POST of its own), the tool's result ends the same stream
      const answer = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: request.id, result: { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'answer on the POST stream' } } });
      expect(answer.status).toBe(202);
      const result = await next();
      expect(result).toMatchObject({ jsonrpc: '2.0', id: 'call', result: { content: expect.arrayContaining([expect.objectContaining({ text: expect.stringContaining('answer on the POST stream') })]) } });
      expect((await reader.read()).done).toBe(true);
    } finally {
      await raw(proxy.mcpUrl, { method: 'DELETE', headers: { 'mcp-session-id': session } });
    }
  });

  it('sends a server request to the session stream when the POST that caused it has disconnected', async () => {
    // GIVEN a client that can sample, with a GET stream open, whose tool call's POST disconnects
    // before the server asks (the server is stopped meanwhile, so it cannot ask earlier)
    const session = await rawSession(proxy.mcpUrl, '2025-06-18', { sampling: {} });
    const stream = await fetch(proxy.mcpUrl, { headers: { accept: 'text/event-stream', 'mcp-session-id': session } });
    expect(stream.status).toBe(200);
    const inFlight = proxy.proxy.mux!.inFlight;
    const thaw = proxy.backend.freeze!(proxy.proxy);
    try {
      const controller = new AbortController();
      const post = fetch(proxy.mcpUrl, {
        method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': session }, signal: controller.signal,
        body: JSON.stringify({ jsonrpc: '2.0', id: 'call', method: 'tools/call', params: { name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } } }),
      }).catch((error: Error) => error.name);
      await waitFor(() => proxy.proxy.mux!.inFlight === inFlight + 1, 5_000, 'the call in flight');
      controller.abort();
      expect(await post).toBe('AbortError');
      // The proxy sees the connection close on its next turn of the event loop.
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      thaw();
    }
    // THEN the sampling request arrives on the GET stream instead of going into the closed POST
    const sse = sseReader(stream);
    await sse.until(/sampling\/createMessage[^\n]*\n\n/);
    const request = sseMessages(sse.text()).find((m) => m.method === 'sampling/createMessage');
    expect(request).toMatchObject({ jsonrpc: '2.0', method: 'sampling/createMessage', id: expect.any(Number) });
    // AND the client can answer it
    const answer = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: request.id, result: { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'answered from the stream' } } });
    expect(answer.status).toBe(202);
    // (the call's own answer goes to the closed POST; the session ends only after it, not abandoning it)
    await waitFor(() => proxy.proxy.mux!.inFlight === inFlight, 5_000, 'the call answered');
    await sse.cancel();
    await raw(proxy.mcpUrl, { method: 'DELETE', headers: { 'mcp-session-id': session } });
  });

  it('routes an elicitation request to the client that can answer it', async () => {
    const asker = await connect({ name: 'elicitor', elicitation: true });
    asker.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'decline' as const }));
    const result = await asker.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(textOf(result)).toContain('declined');
  });

  it('carries progress in order before the response on the legacy SSE stream', async () => {
    // Raw, because the SDK client drops a progress notification that arrives in the same chunk as its
    // response (notification handlers run a microtask later than responses); the proxy's part is the order.
    const controller = new AbortController();
    const stream = await fetch(`${proxy.proxy.url}/sse`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    const sse = sseReader(stream);
    await sse.until(/event: endpoint\ndata: (\S+)\n\n/);
    const endpoint = `${proxy.proxy.url}${/data: (\S+)/.exec(sse.text())![1]}`;
    const send = (message: unknown) => raw(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) });
    await send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw-sse', version: '1' } } });
    await send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await send({ jsonrpc: '2.0', id: 'run', method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 }, _meta: { progressToken: 77 } } });
    await sse.until(/"id":"run"/);
    controller.abort();
    const messages = sseMessages(sse.text());
    const run = messages.filter((message) => message.id === 'run' || message.method === 'notifications/progress');
    expect(run.map((message) => message.method ?? `response ${message.id}`)).toEqual(['notifications/progress', 'notifications/progress', 'response run']);
    expect(run.slice(0, 2).map((message) => [message.params.progressToken, message.params.progress])).toEqual([[77, 1], [77, 2]]);
    expect(messages.find((message) => message.id === 'init').result.protocolVersion).toBe('2024-11-05');
  });

  it('carries a sampling request over the legacy SSE client transport', async () => {
    const client = await connect({ name: 'sse-sampling', transport: 'sse', sampling: true });
    client.setRequestHandler(CreateMessageRequestSchema, sampleAnswer('answer over sse'));
    expect(JSON.stringify(await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'x', maxTokens: 5 } }))).toContain('answer over sse');
  });

  it('answers the server with an error when no client can sample', async () => {
    const plain = await connect({ name: 'no-sampling' });
    const others = clients.filter((client) => client !== plain);
    // Ended, not only closed: a closed client's Streamable HTTP session lives on until DELETE or expiry.
    await Promise.all(others.map(async (client) => {
      const transport = client.transport as { terminateSession?: () => Promise<void> } | undefined;
      await transport?.terminateSession?.();
      await client.close();
    }));
    clients.splice(0, clients.length, plain);
    const result = await plain.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result)).toContain('no connected client can answer sampling/createMessage');
  });

  it('routes roots/list to the client that announced a roots change', async () => {
    const client = await connect({ name: 'roots', roots: true });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///workspace/project', name: 'project' }] }));
    await client.sendRootsListChanged();
    await waitFor(async () => JSON.stringify(await client.callTool({ name: 'get-roots-list', arguments: {} })).includes('file:///workspace/project'), 5_000, 'roots synced');
  });

  it.each([
    ['a JSON answer', 'streamable-http', false],
    ['an SSE answer', 'streamable-http', true],
    ['the legacy SSE transport', 'sse', false],
  ] as [string, 'streamable-http' | 'sse', boolean][])('cancels a request in the backend when its client cancels it, and sends it no response (%s)', async (_, transport, withProgress) => {
    const client = await connect({ transport });
    const errors: Error[] = [];
    client.onerror = (error) => errors.push(error);
    const controller = new AbortController();
    const call = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } }, undefined, {
      signal: controller.signal, ...(withProgress ? { onprogress: () => {} } : {}),
    });
    await waitFor(() => proxy.proxy.mux!.inFlight === 1, 5_000, 'request in flight');
    controller.abort('user pressed stop');
    await expect(call).rejects.toThrow('user pressed stop');
    await waitFor(() => proxy.proxy.mux!.inFlight === 0, 2_000, 'in-flight request cleared');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after cancel' } }))).toBe('Echo: after cancel');
    // The receiver of a cancellation should not respond: a response would reach the client for an id it has forgotten
    expect(errors.map(String)).toEqual([]);
  });

  it('answers a JSON batch without its cancelled request, and a POST whose only request was cancelled with 202', async () => {
    const session = await rawSession(proxy.mcpUrl, '2025-03-26');
    const slow = (id: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } } });
    const cancel = (requestId: string) => rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'stop' } });
    const batch = rawPost(proxy.mcpUrl, session, [slow('slow'), { jsonrpc: '2.0', id: 'fast', method: 'tools/call', params: { name: 'echo', arguments: { message: 'kept' } } }]);
    const single = rawPost(proxy.mcpUrl, session, slow('alone'));
    await waitFor(() => proxy.proxy.mux!.inFlight === 2, 5_000, 'both slow requests in flight');
    expect((await cancel('slow')).status).toBe(202);
    expect((await cancel('alone')).status).toBe(202);
    const batchReply = await batch;
    expect(batchReply.status).toBe(200);
    expect(batchReply.json()).toEqual([{ jsonrpc: '2.0', id: 'fast', result: expect.objectContaining({ content: [{ type: 'text', text: 'Echo: kept' }] }) }]);
    const singleReply = await single;
    expect([singleReply.status, singleReply.text]).toEqual([202, '']);
  });

  it('fans list_changed out to every session', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    let seenA = 0;
    let seenB = 0;
    a.setNotificationHandler(ResourceListChangedNotificationSchema, async () => void (seenA += 1));
    b.setNotificationHandler(ResourceListChangedNotificationSchema, async () => void (seenB += 1));
    const data = `data:text/plain;base64,${Buffer.from('hello').toString('base64')}`;
    await a.callTool({ name: 'gzip-file-as-resource', arguments: { name: `r-${Date.now()}.gz`, data } });
    await waitFor(() => seenA > 0 && seenB > 0, 5_000, 'list_changed on both sessions');
  });

  it('sends log messages only to sessions that set a level', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const logsA: unknown[] = [];
    const logsB: unknown[] = [];
    a.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void logsA.push(n.params));
    b.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void logsB.push(n.params));
    await a.setLoggingLevel('debug');
    await a.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    try {
      await waitFor(() => logsA.length > 0, 5_000, 'a log message');
      await b.ping();
      expect(logsB).toEqual([]);
    } finally {
      await a.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    }
  });

  it('sends resource updates only to subscribed sessions', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const updatesA: string[] = [];
    const updatesB: string[] = [];
    a.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void updatesA.push(n.params.uri));
    b.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void updatesB.push(n.params.uri));
    await a.subscribeResource({ uri: 'demo://resource/dynamic/text/1' });
    await a.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    try {
      await waitFor(() => updatesA.length > 0, 5_000, 'a resource update');
      expect(updatesA[0]).toBe('demo://resource/dynamic/text/1');
      await b.ping();
      expect(updatesB).toEqual([]);
    } finally {
      await a.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
      await a.unsubscribeResource({ uri: 'demo://resource/dynamic/text/1' });
    }
  });

  it('ends a session on DELETE, failing its requests in flight', async () => {
    const session = await rawSession(proxy.mcpUrl);
    const pending = rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 1 } } });
    await waitFor(() => proxy.proxy.mux!.inFlight >= 1, 5_000, 'request in flight');
    const deleted = await raw(proxy.mcpUrl, { method: 'DELETE', headers: { ...MCP_HEADERS, 'mcp-session-id': session } });
    expect(deleted.status).toBe(200);
    const reply = await pending;
    expect(reply.json()).toMatchObject({ id: 9, error: { code: -32800, message: expect.stringContaining('deleted by client') } });
    const after = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 10, method: 'ping' });
    expect(after.status).toBe(404);
    await waitFor(() => proxy.proxy.mux!.inFlight === 0, 2_000, 'in-flight cleared');
  });
});

describe.each(backends)('request timeout over the $name backend', (fixture) => {
  const proxy = useTestProxy(fixture, { limits: { requestTimeoutMs: 400 } });

  it('answers a request the backend does not answer in time with a timeout error', async () => {
    const session = await rawSession(proxy.mcpUrl);
    const reply = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 'slow', method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 1 } } });
    expect(reply.json()).toMatchObject({ id: 'slow', error: { code: -32001, message: expect.stringContaining('timed out') } });
    expect(proxy.proxy.mux!.inFlight).toBe(0);
    const fast = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 'fast', method: 'tools/call', params: { name: 'echo', arguments: { message: 'still here' } } });
    expect(fast.json().result.content[0].text).toBe('Echo: still here');
  });
});
