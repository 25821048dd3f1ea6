/**
 * Starting the proxy and connecting real MCP SDK clients to it, for the end-to-end suites.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createServer } from 'node:net';
import type { ProxyConfig } from '../../proxy/src/config.ts';
import { createLogger, silentLogger, type Logger } from '../../proxy/src/log.ts';
import { startProxy, type RunningProxy } from '../../proxy/src/main.ts';
import type { BackendFixture, StartedBackend } from './backends.ts';

export interface TestProxy {
  readonly proxy: RunningProxy;
  readonly backend: StartedBackend;
  readonly mcpUrl: string;
  close(): Promise<void>;
}

/** Logs of the proxy under test: silent unless TEST_PROXY_LOGS=debug|info|warn|error. */
export function testLogger(): Logger {
  const level = process.env.TEST_PROXY_LOGS;
  return level === 'debug' || level === 'info' || level === 'warn' || level === 'error' ? createLogger({ level }) : silentLogger;
}

export type ConfigOverrides = Omit<Partial<ProxyConfig>, 'backend'>;

export async function startTestProxy(fixture: BackendFixture, overrides: ConfigOverrides = {}): Promise<TestProxy> {
  const backend = await fixture.start();
  const proxy = await startProxy(
    {
      server: 'everything',
      backend: backend.config,
      ...overrides,
      listen: { host: '127.0.0.1', port: 0, metricsPort: 0, ...overrides.listen },
    },
    { logger: testLogger() },
  );
  await waitFor(() => proxy.ready(), 15_000, 'proxy ready');
  return {
    proxy,
    backend,
    mcpUrl: `${proxy.url}/mcp`,
    async close() {
      await proxy.shutdown(0);
      await backend.stop();
    },
  };
}

/**
 * A test proxy for the enclosing `describe`: started before its tests (the overrides may be
 * computed then), closed after them. The object returned stands for it once started: use it in
 * tests and hooks, not while the suite is being declared.
 */
export function useTestProxy(fixture: BackendFixture, overrides: ConfigOverrides | (() => Promise<ConfigOverrides>) = {}): TestProxy {
  const handle = {} as TestProxy;
  let started: TestProxy | undefined;
  beforeAll(async () => {
    started = await startTestProxy(fixture, typeof overrides === 'function' ? await overrides() : overrides);
    Object.assign(handle, started);
  });
  afterAll(async () => {
    await started?.close();
  });
  return handle;
}

/** A TCP port free at the time of the call (for listeners that treat 0 as "off"). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface ClientOptions {
  readonly name?: string;
  readonly sampling?: boolean;
  readonly elicitation?: boolean;
  readonly roots?: boolean;
  readonly transport?: 'streamable-http' | 'sse';
}

export async function connectClient(proxy: TestProxy, options: ClientOptions = {}): Promise<Client> {
  const capabilities: Record<string, object> = {};
  if (options.sampling) capabilities.sampling = {};
  if (options.elicitation) capabilities.elicitation = {};
  if (options.roots) capabilities.roots = { listChanged: true };
  const client = new Client({ name: options.name ?? 'test-client', version: '1.0.0' }, { capabilities });
  const transport =
    options.transport === 'sse'
      ? new SSEClientTransport(new URL(`${proxy.proxy.url}/sse`))
      : new StreamableHTTPClientTransport(new URL(proxy.mcpUrl));
  await client.connect(transport);
  return client;
}

/**
 * Clients "a" and "b" of `proxy`, both able to sample unless `aSamples` is false; each answers
 * `client <name>`, and `asked` lists who was asked, in order: for where server requests go.
 */
export async function samplingClients(proxy: TestProxy, aSamples = true): Promise<{ a: Client; b: Client; asked: string[] }> {
  const asked: string[] = [];
  const [a, b] = await Promise.all(['a', 'b'].map(async (name) => {
    const sampling = name === 'b' || aSamples;
    const client = await connectClient(proxy, { name, sampling });
    if (sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, async () => {
        asked.push(name);
        return { model: 'm', role: 'assistant' as const, content: { type: 'text' as const, text: `client ${name}` } };
      });
    }
    return client;
  }));
  return { a: a!, b: b!, asked };
}

/** Text of the first content item of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content;
  return content?.[0]?.text ?? '';
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json(): any;
}

export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } as const;

/** A raw HTTP request (for the bad-input battery and protocol details the SDK hides). */
export async function raw(url: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** Opens a session with a raw `initialize`; returns its id. */
export async function rawSession(mcpUrl: string, protocolVersion = '2025-06-18', capabilities: Record<string, object> = {}): Promise<string> {
  const response = await raw(mcpUrl, {
    method: 'POST',
    headers: { ...MCP_HEADERS },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities, clientInfo: { name: 'raw', version: '1' } } }),
  });
  if (response.status !== 200) throw new Error(`initialize failed: ${response.status} ${response.text}`);
  const id = response.headers.get('mcp-session-id');
  if (!id) throw new Error('initialize returned no Mcp-Session-Id');
  await raw(mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': id }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return id;
}

/** The JSON-RPC messages of an SSE text (its `event: message` blocks), in order. */
export function sseMessages(text: string): any[] {
  return sseEvents(text).filter((e) => e.event === 'message' && e.data !== '').map((e) => JSON.parse(e.data));
}

/** The complete events of an SSE text, as the EventSource rules read them (comments skipped, `event` defaulting to message). */
export function sseEvents(text: string): { id?: string; event: string; data: string }[] {
  const blocks = text.split('\n\n');
  blocks.pop(); // an event is complete only once its blank line arrived
  return blocks.flatMap((block) => {
    const event: { id?: string; event: string; data: string } = { event: 'message', data: '' };
    const data: string[] = [];
    let fields = 0;
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      fields += 1;
      if (name === 'id') event.id = value;
      else if (name === 'event') event.event = value;
      else if (name === 'data') data.push(value);
    }
    event.data = data.join('\n');
    return fields > 0 ? [event] : [];
  });
}

/** Reads an SSE response body as it arrives: `until` reads on until the text so far matches, and fails if the stream ends first. */
export function sseReader(response: Response): { readonly text: () => string; until(pattern: RegExp): Promise<void>; cancel(): Promise<void> } {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  return {
    text: () => text,
    async until(pattern) {
      while (!pattern.test(text)) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`stream ended before ${pattern}; read ${JSON.stringify(text)}`);
        text += decoder.decode(chunk.value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

/** POSTs one body to an open session. */
export function rawPost(mcpUrl: string, session: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return raw(mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': session, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}
