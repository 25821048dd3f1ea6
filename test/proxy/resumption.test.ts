/**
 * Resuming a Streamable HTTP session's GET stream (`Last-Event-ID`): the stream's events carry ids,
 * the proxy keeps the last ones it sent, and a client whose stream died with messages still in the
 * network gets them again, once each, even while the proxy still believes the old stream is open.
 * The front does this alike for every backend, so these run over the spawn backend only.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import net from 'node:net';
import type { SseStream } from '../../proxy/src/front/exchanges.ts';
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
    // THEN the 2025-11-25 stream opens with an id-only event with an id of its own, then the messages
    expect(sseEvents(streams[0]!.text()).map((e) => [e.id, e.data === '' ? '' : JSON.parse(e.data).method])).toEqual([
      ['1', ''], ['2', 'notifications/resources/list_changed'], ['3', 'notifications/resources/list_changed'],
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

  it('opens the stream without resuming for a Last-Event-ID it never sent, which therefore replaces no open stream', async () => {
    const session = await rawSession(proxy.mcpUrl, '2025-06-18');
    for (const id of ['abc', '1', '-1', '1.5']) {
      const controller = new AbortController();
      const reply = await fetch(proxy.mcpUrl, { headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': id }, signal: controller.signal });
      expect([id, reply.status]).toEqual([id, 200]);
      await waitFor(() => sessionOf(session).stream !== undefined, 5_000, 'the stream attached');
      expect(sessionOf(session).streamResumedAt).toBeUndefined();
      const second = await raw(proxy.mcpUrl, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': id } });
      expect([id, second.status]).toEqual([id, 409]);
      controller.abort();
      await waitFor(() => sessionOf(session).stream === undefined, 5_000, 'the stream closed');
    }
  });

  it('lets a resume replace an open stream, but not one that a resume opened moments ago (two readers would take turns for ever)', async () => {
    const session = await rawSession(proxy.mcpUrl, '2025-06-18');
    const open = (lastEventId?: string) => fetch(proxy.mcpUrl, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': session, ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) },
    });
    const first = await open();
    await waitFor(() => sessionOf(session).stream !== undefined, 5_000, 'the stream attached');
    const original = sessionOf(session).stream;
    const resumed = await open('0');
    expect(resumed.status).toBe(200);
    expect(sessionOf(session).stream).not.toBe(original);
    // the replaced stream ends for its reader (cut, or ended: either way it does not hang)
    await first.text().catch(() => 'cut');
    const again = await raw(proxy.mcpUrl, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': '0' } });
    expect(again.status).toBe(409);
    expect(again.json().error.message).toContain('resumed by another reader moments ago');
    await resumed.body!.cancel();
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
      // AND the stale connection is dropped, with what was queued for it, not left to TCP's timeouts
      expect((stale as SseStream).res.destroyed).toBe(true);
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
  const made: Session[] = [];
  const session = (transport: 'streamable-http' | 'sse' = 'streamable-http'): Session => {
    const created = new Session(`s${made.length}`, transport, 0);
    made.push(created);
    return created;
  };
  // The replay budget is shared by every session of the process: give it back.
  afterEach(() => { for (const s of made.splice(0)) s.forgetSent(); });
  const sink = (): { written: [string, number | undefined][]; write(message: string, id?: number): boolean; close(): void } => {
    const written: [string, number | undefined][] = [];
    return { written, write: (message, id) => { written.push([message, id]); return true; }, close: () => {} };
  };

  it('keeps the last 256 events, says how many a resuming client lost, and replays the rest in order', () => {
    const s = session();
    s.attachStream(sink());
    for (let i = 1; i <= 300; i++) s.deliver(`m${i}`);
    const resumed = sink();
    expect(s.attachStream(resumed, { resumeAfter: 10 })).toEqual({ replayed: 256, lost: 34 });
    expect(resumed.written[0]).toEqual(['m45', 45]);
    expect(resumed.written.at(-1)).toEqual(['m300', 300]);
    // what a client resumed after is confirmed, and no longer kept
    expect(s.attachStream(sink(), { resumeAfter: 290 })).toEqual({ replayed: 10, lost: 0 });
    expect(s.attachStream(sink(), { resumeAfter: 0 })).toEqual({ replayed: 10, lost: 290 });
  });

  it('keeps at most 1 MiB of messages', () => {
    const s = session();
    s.attachStream(sink());
    const big = 'x'.repeat(400 * 1024);
    for (let i = 0; i < 4; i++) s.deliver(big);
    expect(s.attachStream(sink(), { resumeAfter: 0 })).toEqual({ replayed: 2, lost: 2 });
  });

  it('keeps at most 32 MiB for all sessions together: past it, the session adding drops its own oldest', () => {
    const quarter = 'x'.repeat(256 * 1024);
    const full = Array.from({ length: 32 }, () => session());
    for (const s of full) {
      s.attachStream(sink());
      for (let i = 0; i < 4; i++) s.deliver(quarter);
    }
    const late = session();
    late.attachStream(sink());
    late.deliver(quarter);
    expect(late.attachStream(sink(), { resumeAfter: 0 })).toEqual({ replayed: 0, lost: 1 });
    expect(full[0]!.attachStream(sink(), { resumeAfter: 0 })).toEqual({ replayed: 4, lost: 0 });
    // a session that ends gives its share back
    full[1]!.forgetSent();
    late.deliver(quarter);
    expect(late.attachStream(sink(), { resumeAfter: 1 })).toEqual({ replayed: 1, lost: 0 });
  });

  it('numbers nothing on a legacy SSE stream, which cannot be resumed', () => {
    const s = session('sse');
    const stream = sink();
    s.attachStream(stream);
    s.deliver('m');
    expect(stream.written).toEqual([['m', undefined]]);
    expect(s.lastSentEventId).toBe(0);
  });
});
