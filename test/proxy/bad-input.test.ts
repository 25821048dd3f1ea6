/**
 * The bad-input battery, with raw HTTP against the real proxy and server: each malformed or
 * disallowed request gets the right HTTP status or JSON-RPC error, and the proxy keeps serving.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnBackend } from '../support/backends.ts';
import { MCP_HEADERS, raw, rawPost, rawSession, sseReader, startTestProxy, useTestProxy, type TestProxy } from '../support/proxy-harness.ts';

describe('bad input', () => {
  let proxy: TestProxy;
  let session: string;
  const echo = (id: unknown = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'ok' } } });
  const post = (body: string, headers: Record<string, string> = {}) =>
    raw(proxy.mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': session, ...headers }, body });

  beforeAll(async () => {
    proxy = await startTestProxy(spawnBackend, { limits: { maxBodyBytes: 64 * 1024 }, security: { allowedOrigins: ['https://app.example'] } });
    session = await rawSession(proxy.mcpUrl);
  });
  afterAll(async () => {
    // After the whole battery, the proxy still answers the same session.
    const reply = await rawPost(proxy.mcpUrl, session, echo('final'));
    expect(reply.json().result.content[0].text).toBe('Echo: ok');
    await proxy?.close();
  });

  it('rejects invalid JSON with 400 and a parse error', async () => {
    const reply = await post('{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(reply.status).toBe(400);
    expect(reply.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });

  it.each([
    ['a number', '42'],
    ['a string', '"hello"'],
    ['null', 'null'],
    ['an object without jsonrpc', '{"id":1,"method":"ping"}'],
    ['the wrong jsonrpc version', '{"jsonrpc":"1.0","id":1,"method":"ping"}'],
    ['a non-string method', '{"jsonrpc":"2.0","id":1,"method":7}'],
    ['positional params', '{"jsonrpc":"2.0","id":1,"method":"ping","params":[1,2]}'],
    ['a _meta that is not an object', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":null}}'],
    ['neither method nor result', '{"jsonrpc":"2.0","id":1}'],
    ['both result and error', '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}'],
  ])('rejects valid JSON that is not JSON-RPC (%s) with 400 and -32600', async (_, body) => {
    const reply = await post(body);
    expect(reply.status).toBe(400);
    expect(reply.json().error.code).toBe(-32600);
  });

  it.each([
    ['null', null],
    ['a fraction', 1.5],
    ['a boolean', true],
    ['an object', { a: 1 }],
    ['an array', [1]],
    ['an integer beyond 2^53', 2 ** 60],
  ])('rejects a request id that is %s', async (_, id) => {
    const reply = await post(JSON.stringify(echo(id)));
    expect(reply.status).toBe(400);
    expect(reply.json()).toMatchObject({ id: null, error: { code: -32600, message: expect.stringContaining('"id"') } });
  });

  it('rejects batches in protocol versions that removed them', async () => {
    const reply = await post(JSON.stringify([echo(1), echo(2)]));
    expect(reply.status).toBe(400);
    expect(reply.json().error.message).toContain('batches are not supported in protocol version 2025-06-18');
  });

  it('answers a batch in a 2025-03-26 session with an array of responses', async () => {
    const old = await rawSession(proxy.mcpUrl, '2025-03-26');
    const reply = await rawPost(proxy.mcpUrl, old, [echo('x'), { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'none', progress: 1 } }, { jsonrpc: '2.0', id: 'y', method: 'ping' }]);
    expect(reply.status).toBe(200);
    const body = reply.json();
    expect(body).toHaveLength(2);
    expect(Object.fromEntries(body.map((r: { id: string }) => [r.id, r]))).toMatchObject({ x: { result: { content: [{ text: 'Echo: ok' }] } }, y: { result: {} } });
  });

  it('rejects an empty batch', async () => {
    const reply = await post('[]');
    expect(reply.status).toBe(400);
    expect(reply.json().error.code).toBe(-32600);
  });

  it('rejects a body that is not JSON with 415', async () => {
    const reply = await post(JSON.stringify(echo()), { 'content-type': 'text/plain' });
    expect(reply.status).toBe(415);
  });

  it('rejects a client that accepts neither JSON nor SSE with 406', async () => {
    const reply = await post(JSON.stringify(echo()), { accept: 'text/html' });
    expect(reply.status).toBe(406);
    const get = await raw(proxy.mcpUrl, { method: 'GET', headers: { accept: 'application/json', 'mcp-session-id': session } });
    expect(get.status).toBe(406);
  });

  it('rejects a missing Accept header with 406', async () => {
    const reply = await fetch(proxy.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'mcp-session-id': session, accept: '' }, body: JSON.stringify(echo()) });
    expect(reply.status).toBe(406);
  });

  it('rejects a body that is not UTF-8 with 400, before it can grow into a longer line for the server', async () => {
    const body = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"'), Buffer.alloc(1000, 0x80), Buffer.from('"}}}')]);
    const reply = await post(body as unknown as string);
    expect(reply.status).toBe(400);
    expect(reply.json()).toMatchObject({ id: null, error: { code: -32700, message: 'Parse error: the body is not valid UTF-8' } });
  });

  it('answers a request nested too deeply to forward with a JSON-RPC error, and keeps nothing in flight', async () => {
    // JSON.parse takes this, JSON.stringify throws RangeError on it: the request must fail alone,
    // not leave a pending entry whose timeout would write to an answered response.
    const deep = `{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":"echo","arguments":{"message":${'['.repeat(20_000)}${']'.repeat(20_000)}}}}`;
    const reply = await post(deep);
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ jsonrpc: '2.0', id: 'deep', error: { code: -32600, message: 'request cannot be forwarded: it is nested too deeply to serialize' } });
    expect(proxy.proxy.mux!.inFlight).toBe(0);
  });

  it('rejects an oversized body with 413', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(100 * 1024) } } });
    const reply = await post(big);
    expect(reply.status).toBe(413);
  });

  it('rejects an unknown session with 404 and a missing one with 400', async () => {
    expect((await post(JSON.stringify(echo()), { 'mcp-session-id': 'not-a-session' })).status).toBe(404);
    const missing = await raw(proxy.mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS }, body: JSON.stringify(echo()) });
    expect(missing.status).toBe(400);
    expect(missing.json().error.message).toContain('Mcp-Session-Id');
  });

  it('rejects a request before initialize (no session yet) with 400', async () => {
    const reply = await raw(proxy.mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(reply.status).toBe(400);
  });

  it('rejects a request before initialize on a legacy SSE session with a JSON-RPC error on its stream', async () => {
    const controller = new AbortController();
    const stream = await fetch(`${proxy.proxy.url}/sse`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    const sse = sseReader(stream);
    await sse.until(/event: endpoint\ndata: (\S+)\n\n/);
    const endpoint = /data: (\S+)/.exec(sse.text())![1];
    const accepted = await raw(`${proxy.proxy.url}${endpoint}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }) });
    expect(accepted.status).toBe(202);
    await sse.until(/"id":5/);
    expect(sse.text()).toContain('tools/list before initialize');
    controller.abort();
  });

  it('rejects an unsupported MCP-Protocol-Version with 400', async () => {
    const reply = await post(JSON.stringify(echo()), { 'mcp-protocol-version': '1999-01-01' });
    expect(reply.status).toBe(400);
    expect(reply.json().error.message).toContain('2025-06-18');
  });

  it('rejects other methods with 405 and an Allow header', async () => {
    const reply = await raw(proxy.mcpUrl, { method: 'PUT', headers: { ...MCP_HEADERS }, body: '{}' });
    expect(reply.status).toBe(405);
    expect(reply.headers.get('allow')).toBe('GET, POST, DELETE');
  });

  it('rejects a second GET stream for one session with 409', async () => {
    const controller = new AbortController();
    const first = await fetch(proxy.mcpUrl, { headers: { accept: 'text/event-stream', 'mcp-session-id': session }, signal: controller.signal });
    expect(first.status).toBe(200);
    const second = await raw(proxy.mcpUrl, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': session } });
    expect(second.status).toBe(409);
    controller.abort();
  });

  it('answers 202 to a POST of notifications only', async () => {
    const reply = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }));
    expect(reply.status).toBe(202);
  });

  it('answers an initialize that carries a session id with 400', async () => {
    const reply = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }));
    expect(reply.status).toBe(400);
  });

  it('negotiates an unsupported client protocol version down to one it speaks', async () => {
    const reply = await raw(proxy.mcpUrl, {
      method: 'POST', headers: { ...MCP_HEADERS },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2099-01-01', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    expect(reply.status).toBe(200);
    expect(reply.json().result.protocolVersion).toBe('2025-11-25');
  });

  it('refuses a foreign Origin and Host (DNS rebinding) with 403', async () => {
    expect((await post(JSON.stringify(echo()), { origin: 'http://evil.example' })).status).toBe(403);
    // fetch cannot set Host; node:http can.
    const url = new URL(proxy.mcpUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: '/mcp', method: 'POST', headers: { ...MCP_HEADERS, host: 'evil.example', 'mcp-session-id': session } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end(JSON.stringify(echo()));
    });
    expect(status).toBe(403);
  });

  it('lets an allowed browser origin in with CORS headers, preflight included', async () => {
    const preflight = await raw(proxy.mcpUrl, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('mcp-session-id');
    const reply = await post(JSON.stringify(echo()), { origin: 'https://app.example' });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(reply.headers.get('access-control-expose-headers')).toBe('mcp-session-id');
  });

  it('answers unknown paths with 404', async () => {
    expect((await raw(`${proxy.proxy.url}/nope`)).status).toBe(404);
  });
});

describe('bad input at the default body limit', () => {
  const proxy = useTestProxy(spawnBackend);

  it('refuses a request that would grow past the stdio line limit once serialized again, and the server lives on', async () => {
    // 4 MB of `9e20` is 17 MB once written again (`900000000000000000000`): over the 10 MiB line
    // that MCP SDK stdio servers exit on, though the body is within limits.maxBodyBytes.
    const numbers = new Array(800_000).fill('9e20').join(',');
    const body = `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"echo","arguments":{"message":"x","pad":[${numbers}]}}}`;
    expect(body.length).toBeLessThan(4 * 1024 * 1024);
    const session = await rawSession(proxy.mcpUrl);
    const reply = await raw(proxy.mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': session }, body });
    expect(reply.json()).toMatchObject({ id: 'big', error: { code: -32600, message: expect.stringMatching(/^request cannot be forwarded: it is \d+ bytes once serialized for the server, over the 10485760-byte line/) } });
    expect(proxy.proxy.mux!.inFlight).toBe(0);
    expect(proxy.proxy.mux!.lifecycle.state).toBe('ready');
    const echo = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'after' } } });
    expect(echo.json().result.content[0].text).toBe('Echo: after');
  });
});
