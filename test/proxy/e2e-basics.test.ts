/**
 * End to end through the proxy with the real MCP SDK client and the real server-everything:
 * tools, resources, prompts over both client transports; many concurrent clients; colliding ids.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { backends } from '../support/backends.ts';
import { connectClient, rawPost, rawSession, textOf, useTestProxy } from '../support/proxy-harness.ts';

describe.each(backends)('proxy over the $name backend', (fixture) => {
  const proxy = useTestProxy(fixture);

  describe.each(['streamable-http', 'sse'] as const)('with the SDK %s client', (transport) => {
    let client: Client;
    beforeAll(async () => {
      client = await connectClient(proxy, { transport });
    });
    afterAll(async () => {
      await client?.close();
    });

    it('negotiates the protocol and reports the server it fronts', () => {
      expect(client.getServerVersion()?.name).toBe('mcp-servers/everything');
      expect(client.getServerCapabilities()?.tools).toBeDefined();
    });

    it('lists and calls tools', async () => {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['echo', 'get-sum', 'trigger-long-running-operation']));
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: `hello over ${transport}` } }))).toBe(`Echo: hello over ${transport}`);
      expect(textOf(await client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } }))).toContain('42');
    });

    it('reports tool errors as tool results, not transport failures', async () => {
      const result = await client.callTool({ name: 'echo', arguments: { wrong: 1 } });
      expect(result.isError).toBe(true);
    });

    it('lists and reads resources', async () => {
      const { resources } = await client.listResources();
      expect(resources.length).toBeGreaterThan(0);
      const { resourceTemplates } = await client.listResourceTemplates();
      expect(resourceTemplates.length).toBeGreaterThan(0);
      const read = await client.readResource({ uri: 'demo://resource/dynamic/text/7' });
      expect(JSON.stringify(read.contents)).toContain('7');
    });

    it('lists and gets prompts', async () => {
      const { prompts } = await client.listPrompts();
      expect(prompts.map((prompt) => prompt.name)).toEqual(expect.arrayContaining(['simple-prompt', 'args-prompt']));
      const prompt = await client.getPrompt({ name: 'args-prompt', arguments: { city: 'Lisbon' } });
      expect(JSON.stringify(prompt.messages)).toContain('Lisbon');
    });

    it('answers ping', async () => {
      await expect(client.ping()).resolves.toBeDefined();
    });
  });

  it('routes every reply to its own caller with 200 concurrent clients', async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, (_, i) => connectClient(proxy, { name: `c${i}` })));
    try {
      const rounds = 3;
      const results = await Promise.all(
        clients.map(async (client, i) => {
          const replies: string[] = [];
          for (let round = 0; round < rounds; round++) {
            replies.push(textOf(await client.callTool({ name: 'echo', arguments: { message: `client-${i}-round-${round}-${'x'.repeat(i % 17)}` } })));
          }
          return replies;
        }),
      );
      results.forEach((replies, i) => {
        expect(replies).toEqual(Array.from({ length: rounds }, (_, round) => `Echo: client-${i}-round-${round}-${'x'.repeat(i % 17)}`));
      });
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('routes every reply to its own caller with 50 concurrent legacy SSE clients', async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, (_, i) => connectClient(proxy, { name: `sse${i}`, transport: 'sse' })));
    try {
      const replies = await Promise.all(clients.map((client, i) => client.callTool({ name: 'echo', arguments: { message: `sse-client-${i}` } })));
      replies.forEach((reply, i) => expect(textOf(reply)).toBe(`Echo: sse-client-${i}`));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('keeps identical request ids of different sessions apart', async () => {
    const [a, b] = await Promise.all([rawSession(proxy.mcpUrl), rawSession(proxy.mcpUrl)]);
    // Each session numbers its requests 1, 2, 3...: every id is in use in both sessions at once.
    const call = (session: string, id: number, message: string) =>
      rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => call(i % 2 ? a : b, Math.floor(i / 2) + 1, `m${i}`)));
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ jsonrpc: '2.0', id: Math.floor(i / 2) + 1, result: { content: [{ type: 'text', text: `Echo: m${i}` }] } });
    });
  });

  it.each([
    ['a string', 'req-☃-1'],
    ['an empty string', ''],
    ['zero', 0],
    ['a negative integer', -7],
    ['the largest safe integer', Number.MAX_SAFE_INTEGER],
  ])('echoes %s id exactly', async (_, id) => {
    const session = await rawSession(proxy.mcpUrl);
    const reply = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'id' } } });
    expect(reply.status).toBe(200);
    expect(reply.json().id).toBe(id);
  });
});
