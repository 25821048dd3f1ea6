/**
 * The `http` backend: the proxy as a reverse proxy in front of server-everything's own Streamable
 * HTTP and SSE transports, with the real SDK client on the other side.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { startProxy, type RunningProxy } from '../../proxy/src/main.ts';
import { EVERYTHING_SERVER } from '../support/everything.ts';
import { freePort, MCP_HEADERS, raw, testLogger, textOf, waitFor } from '../support/proxy-harness.ts';

async function startUpstream(transport: 'streamableHttp' | 'sse'): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING_SERVER, transport], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  await waitFor(() => /listening on port|running on port/i.test(output), 15_000, `server-everything ${transport} listening`);
  return { port, child };
}

describe.each([
  { transport: 'streamable-http' as const, upstream: 'streamableHttp' as const, path: '/mcp' },
  { transport: 'sse' as const, upstream: 'sse' as const, path: '/sse' },
])('http backend in front of a $transport server', ({ transport, upstream, path }) => {
  let server: { port: number; child: ChildProcess };
  let proxy: RunningProxy;
  let client: Client;

  beforeAll(async () => {
    server = await startUpstream(upstream);
    proxy = await startProxy(
      { server: 'remote', backend: { type: 'http', url: `http://127.0.0.1:${server.port}${path}`, transport }, listen: { host: '127.0.0.1', port: 0, metricsPort: 0 } },
      { logger: testLogger() },
    );
    client = new Client({ name: 'via-http-backend', version: '1' });
    const url = new URL(`${proxy.url}${transport === 'sse' ? '/sse' : '/mcp'}`);
    await client.connect(transport === 'sse' ? new SSEClientTransport(url) : new StreamableHTTPClientTransport(url));
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.shutdown(0);
    server?.child.kill('SIGKILL');
  });

  it('passes requests and responses through', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain('echo');
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => client.callTool({ name: 'echo', arguments: { message: `via-${i}` } })));
    replies.forEach((reply, i) => expect(textOf(reply)).toBe(`Echo: via-${i}`));
  });

  it('streams progress through as it happens', async () => {
    const progress: Progress[] = [];
    const result = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p) });
    expect(textOf(result)).toContain('completed');
    // server-everything's own SSE transport writes the last progress after the result even without
    // the proxy (the SDK client then drops it), so over `sse` the first two are what arrives.
    expect(progress.map((p) => p.progress)).toEqual(transport === 'sse' ? [1, 2] : [1, 2, 3]);
  });

  it('records the same metrics as a stream backend, with announced tool names', async () => {
    const metrics = await proxy.telemetry.prometheus.registry.metrics();
    expect(metrics).toMatch(new RegExp(`toolhive_mcp_requests_total\\{server="remote",method="tools/call",status="success",transport="${transport}"\\} (2[0-9]|[3-9][0-9])`));
    expect(metrics).toMatch(/toolhive_mcp_tool_calls_total\{server="remote",tool="echo",status="success"\} 20/);
  });

  it('still guards Host and Origin', async () => {
    const reply = await raw(`${proxy.url}${transport === 'sse' ? '/sse' : '/mcp'}`, { method: transport === 'sse' ? 'GET' : 'POST', headers: { ...MCP_HEADERS, origin: 'http://evil.example' }, body: transport === 'sse' ? undefined : '{}' });
    expect(reply.status).toBe(403);
  });
});

describe('http backend with an unreachable upstream', () => {
  it('is not ready and answers 502 with a JSON-RPC error naming the cause', async () => {
    const port = await freePort();
    const proxy = await startProxy(
      { server: 'gone', backend: { type: 'http', url: `http://127.0.0.1:${port}/mcp`, transport: 'streamable-http' }, listen: { host: '127.0.0.1', port: 0, metricsPort: 0 } },
      { logger: testLogger() },
    );
    try {
      const readyz = await raw(`${proxy.url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(readyz.text).toContain('ECONNREFUSED');
      const reply = await raw(`${proxy.url}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }) });
      expect(reply.status).toBe(502);
      expect(reply.json().error).toMatchObject({ code: -32000, message: expect.stringContaining('ECONNREFUSED') });
      expect(await proxy.telemetry.prometheus.registry.metrics()).toMatch(/toolhive_mcp_backend_up\{server="gone",backend="http"\} 0/);
    } finally {
      await proxy.shutdown(0);
    }
  });
});
