/**
 * Resuming a Streamable HTTP session's GET stream (`Last-Event-ID`): the stream's events carry ids,
 * the proxy keeps the last ones it sent, and a client whose stream died with messages still in the
 * network gets them again, once each, even while the proxy still believes the old stream is open.
 * The front does this alike for every backend, so these run over the spawn backend only.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import net from 'node:net';
import { Session } from '../../proxy/src/mux/session.ts';
import { spawnBackend } from '../support/backends.ts';
import {
  connectClient, raw, rawSession, sseEvents, sseMessages, sseReader, startTestProxy, waitFor, type TestProxy,
} from '../support/proxy-harness.ts';

/**
 * A TCP relay in front of the proxy whose connections can go silent: what the proxy sends on them
 * is swallowed while the proxy's side stays open, as when a NAT or a load balancer forgets a flow.
 * `cut()` then ends the client's side only; the proxy never learns of it.
 */
class SilencingRelay {
  private readonly server: net.Server;
  private readonly links = new Set<{ client: net.Socket; upstream: net.Socket; silent: boolean }>();

  constructor(targetPort: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      const link = { client, upstream, silent: false };
      this.links.add(link);
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => { if (!link.silent) client.write(chunk); });
      client.on('close', () => { if (!link.silent) upstream.destroy(); this.links.delete(link); });
      upstream.on('close', () => client.destroy());
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}/mcp`;
  }

  silence(): void {
    for (const link of this.links) link.silent = true;
  }

  /** Ends the client side of the silent connections; their proxy side stays open. */
  cut(): void {
    for (const link of this.links) if (link.silent) link.client.destroy();
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const GZIP_DATA = `data:text/plain;base64,${Buffer.from('hello').toString('base64')}`;

describe('resuming a GET stream', () => {
  let proxy: TestProxy;
  /** Adding a resource makes the server send `notifications/resources/list_changed` to every session's stream. */
  let trigger: Client;
  let added = 0;
  const listChanged = async (): Promise<void> => {
    added += 1;
    await trigger.callTool({ name: 'gzip-file-as-resource', arguments: { name: `r-${added}-${Date.now()}.gz`, data: GZIP_DATA } });
  };
  const sessionOf = (id: string): Session => proxy.proxy.mux!.sessions.get(id)!;

  beforeAll(async () => {
    proxy = await startTestProxy(spawnBackend);
    trigger = await connectClient(proxy, { name: 'trigger' });
  });
  afterAll(async () => {
    await trigger?.close();
    await proxy?.close();
  });

  it('numbers the stream\'s events, and primes a 2025-11-25 stream with an id-only event so even a quiet one can be resumed', async () => {
    // GIVEN sessions of 2025-11-25 and of 2025-06-18, each with its GET stream open
    const [current, older] = await Promise.all([rawSession(proxy.mcpUrl, '2025-11-25'), rawSession(proxy.mcpUrl, '2025-06-18')]);
    const streams = await Promise.all([current, older].map(async (session) => {
      const response = await fetch(proxy.mcpUrl, { headers: { accept: 'text/event-stream', 'mcp-session-id': session } });
      expect(response.status).toBe(200);
      await waitFor(() => sessionOf(session).stream !== undefined, 5_000, 'the stream attached');
      return sseReader(response);
    }));
    // WHEN the server sends two messages to every session
    await listChanged();
    await listChanged();
    for (const sse of streams) await sse.until(/(list_changed[^\n]*\n\n[^]*){2}/);
    // THEN the 2025-11-25 stream opens with an id-only event (id 0: nothing sent yet), then 1 and 2
    expect(sseEvents(streams[0]!.text()).map((e) => [e.id, e.data === '' ? '' : JSON.parse(e.data).method])).toEqual([
      ['0', ''], ['1', 'notifications/resources/list_changed'], ['2', 'notifications/resources/list_changed'],
    ]);
    // AND the older client, which may not expect an event without data, gets the numbered messages only
    expect(sseEvents(streams[1]!.text()).map((e) => [e.id, JSON.parse(e.data).method])).toEqual([
      ['1', 'notifications/resources/list_changed'], ['2', 'notifications/resources/list_changed'],
    ]);
    for (const sse of streams) await sse.cancel();
  });

  it('sends the events after Last-Event-ID again, then what waited while no stream was open, each once', async () => {
    // GIVEN a session whose stream received events 1 and 2, of which its client saw only 1
    const session = await rawSession(proxy.mcpUrl, '2025-06-18');
    const first = await fetch(proxy.mcpUrl, { headers: { accept: 'text/event-stream', 'mcp-session-id': session } });
    await waitFor(() => sessionOf(session).stream !== undefined, 5_000, 'the stream attached');
    const sse = sseReader(first);
    await listChanged();
    await listChanged();
    await sse.until(/^id: 2$/m);
    await sse.cancel();
    await waitFor(() => sessionOf(session).stream === undefined, 5_000, 'the proxy to see the stream close');
    // AND one more message came while no stream was open
    await listChanged();
    // WHEN the client resumes after event 1
    const resumed = await fetch(proxy.mcpUrl, { headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': '1' } });
    expect(resumed.status).toBe(200);
    const again = sseReader(resumed);
    await again.until(/^id: 3$/m);
    // THEN it gets event 2 again and then the waiting message as event 3, and nothing twice
    expect(sseEvents(again.text()).map((e) => e.id)).toEqual(['2', '3']);
    expect(sseMessages(again.text()).map((m) => m.method)).toEqual(['notifications/resources/list_changed', 'notifications/resources/list_changed']);
    await again.cancel();
  });

  it('refuses a Last-Event-ID the stream never sent with 400', async () => {
    const session = await rawSession(proxy.mcpUrl, '2025-06-18');
    for (const id of ['abc', '1', '-1', '1.5']) {
      const reply = await raw(proxy.mcpUrl, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': id } });
      expect([id, reply.status]).toEqual([id, 400]);
      expect(reply.json().error.message).toContain(`Last-Event-ID ${JSON.stringify(id)} is not an event id of this session's stream (a whole number from 0 to 0)`);
    }
  });

  it('gives the SDK client every message sent into a connection that died silently, once, with no proxy restart', async () => {
    // GIVEN an SDK client that reaches the proxy through a relay, its GET stream open
    const relay = new SilencingRelay(Number(new URL(proxy.mcpUrl).port));
    const transport = new StreamableHTTPClientTransport(new URL(await relay.listen()));
    const client = new Client({ name: 'roaming', version: '1.0.0' });
    let seen = 0;
    client.setNotificationHandler(ResourceListChangedNotificationSchema, async () => void (seen += 1));
    try {
      await client.connect(transport);
      const session = sessionOf(transport.sessionId!);
      await waitFor(() => session.stream !== undefined, 5_000, 'the client\'s GET stream');
      await listChanged();
      await waitFor(() => seen === 1, 5_000, 'the first message');
      // WHEN its connections go silent, two messages are sent into them, and the client's side breaks
      // while the proxy's side stays open (the proxy still holds the old stream)
      relay.silence();
      const sentBefore = session.lastSentEventId;
      await listChanged();
      await listChanged();
      await waitFor(() => session.lastSentEventId === sentBefore + 2, 5_000, 'both written into the silent stream');
      const stale = session.stream;
      relay.cut();
      // THEN the client reconnects with Last-Event-ID, its new stream replaces the stale one, and
      // the two messages it missed arrive
      await waitFor(() => seen === 3, 10_000, 'the missed messages');
      expect(session.stream).not.toBe(stale);
      // AND nothing arrives twice: the next message makes it 4
      await listChanged();
      await waitFor(() => seen >= 4, 5_000, 'the next message');
      await client.ping();
      expect(seen).toBe(4);
    } finally {
      await client.close();
      await relay.close();
    }
  });
});

describe('Session replay', () => {
  const sink = (): { written: [string, number | undefined][]; write(message: string, id?: number): boolean; close(): void } => {
    const written: [string, number | undefined][] = [];
    return { written, write: (message, id) => { written.push([message, id]); return true; }, close: () => {} };
  };

  it('keeps the last 256 events, says how many a resuming client lost, and replays the rest in order', () => {
    const session = new Session('s', 'streamable-http', 0);
    session.attachStream(sink());
    for (let i = 1; i <= 300; i++) session.deliver(`m${i}`);
    const resumed = sink();
    expect(session.attachStream(resumed, { resumeAfter: 10 })).toEqual({ replayed: 256, lost: 34 });
    expect(resumed.written[0]).toEqual(['m45', 45]);
    expect(resumed.written.at(-1)).toEqual(['m300', 300]);
    expect(session.attachStream(sink(), { resumeAfter: 300 })).toEqual({ replayed: 0, lost: 0 });
  });

  it('keeps at most 1 MiB of messages', () => {
    const session = new Session('s', 'streamable-http', 0);
    session.attachStream(sink());
    const big = 'x'.repeat(400 * 1024);
    for (let i = 0; i < 4; i++) session.deliver(big);
    expect(session.attachStream(sink(), { resumeAfter: 0 })).toEqual({ replayed: 2, lost: 2 });
  });

  it('numbers nothing on a legacy SSE stream, which cannot be resumed', () => {
    const session = new Session('s', 'sse', 0);
    const stream = sink();
    session.attachStream(stream);
    session.deliver('m');
    expect(stream.written).toEqual([['m', undefined]]);
    expect(session.lastSentEventId).toBe(0);
  });
});
