/**
 * The ways a client's messages get their answers:
 * - `JsonExchange`: one POST answered with one JSON body (an object, or an array for a batch) once
 *   every request in it is answered. When the server sends a message related to one of its requests
 *   (a sampling request a `tools/call` caused) and the client accepts `text/event-stream`, it turns
 *   into an `SseExchange` that carries it, so a client with no GET stream still gets it; otherwise
 *   such messages go to the session's stream.
 * - `SseExchange`: one POST answered with an SSE stream that carries related messages (progress,
 *   server requests) and then the responses, and ends after the last response.
 * - `SseStream`: a long-lived stream (Streamable HTTP GET, legacy `/sse`) for a session's messages.
 * - `StreamExchange`: legacy SSE, where every answer travels on the session's stream.
 *
 * Each settles its HTTP response exactly once and reports the end of the connection to `onDone`
 * (the active-connections gauge) exactly once.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Exchange, MessageSink, Session } from '../mux/session.ts';
import { JSON_HEADERS } from './http-util.ts';

/**
 * A session stream whose client reads slower than messages arrive is closed once this much is
 * queued: its memory stays bounded, and later messages wait in the session's backlog until the client
 * opens a new stream.
 */
const STREAM_BUFFER_LIMIT = 8 * 1024 * 1024;

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive' } as const;

export class JsonExchange implements Exchange {
  private readonly res: ServerResponse;
  private readonly expected: number;
  private readonly batch: boolean;
  private readonly canStream: boolean;
  private readonly onDone: () => void;
  private single: string | undefined;
  private many: string[] | undefined;
  private received = 0;
  /** Set once a related message turned the answer into an SSE stream. */
  private stream: SseExchange | undefined;

  /** `canStream`: the client accepts `text/event-stream`, so the answer may become one. */
  constructor(res: ServerResponse, expected: number, batch: boolean, onDone: () => void, canStream: boolean) {
    this.res = res;
    this.expected = expected;
    this.batch = batch;
    this.onDone = onDone;
    this.canStream = canStream;
  }

  respond(message: string): void {
    if (this.stream) return this.stream.respond(message);
    if (this.received >= this.expected) return;
    this.received += 1;
    if (!this.batch) this.single = message;
    else (this.many ??= []).push(message);
    if (this.received === this.expected) this.end();
  }

  cancelled(): void {
    if (this.stream) return this.stream.cancelled();
    if (this.received >= this.expected) return;
    this.received += 1;
    if (this.received === this.expected) this.end();
  }

  relate(message: string): boolean {
    if (this.stream) return this.stream.relate(message);
    // A client that disconnected reads nothing more here: the session's stream (or backlog) takes it.
    if (!this.canStream || this.received >= this.expected || this.res.headersSent || this.res.destroyed) return false;
    // Still unanswered: answer with a stream instead, the batch's answers so far first.
    this.stream = new SseExchange(this.res, this.expected - this.received, this.onDone);
    for (const answered of this.many ?? []) this.stream.relate(answered);
    return this.stream.relate(message);
  }

  private end(): void {
    if (this.res.headersSent) {
      // Already answered (an error reply from the route): writing again would throw.
      this.onDone();
      return;
    }
    const body = this.batch ? (this.many ? `[${this.many.join(',')}]` : undefined) : this.single;
    if (body === undefined) {
      // Every request in it was cancelled: nothing to answer, as for a POST of notifications.
      this.res.writeHead(202, { 'content-length': 0 });
      this.res.end();
    } else {
      this.res.writeHead(200, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
      this.res.end(body);
    }
    this.onDone();
  }
}

export class SseExchange implements Exchange {
  private readonly res: ServerResponse;
  private readonly expected: number;
  private readonly onDone: () => void;
  private received = 0;
  private ended = false;

  constructor(res: ServerResponse, expected: number, onDone: () => void, headers?: OutgoingHttpHeaders) {
    this.res = res;
    this.expected = expected;
    this.onDone = onDone;
    res.writeHead(200, headers ? { ...SSE_HEADERS, ...headers } : SSE_HEADERS);
    res.flushHeaders();
    res.once('close', () => this.end());
  }

  respond(message: string): void {
    if (this.received >= this.expected) return;
    this.received += 1;
    if (!this.ended) this.res.write(`event: message\ndata: ${message}\n\n`);
    if (this.received === this.expected) this.end();
  }

  cancelled(): void {
    if (this.received >= this.expected) return;
    this.received += 1;
    if (this.received === this.expected) this.end();
  }

  relate(message: string): boolean {
    if (this.ended) return false;
    this.res.write(`event: message\ndata: ${message}\n\n`);
    return true;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.res.end();
    this.onDone();
  }
}

/** A long-lived SSE stream of one session. Comment lines keep idle intermediaries from closing it. */
export class SseStream implements MessageSink {
  readonly res: ServerResponse;
  private closed = false;
  private readonly onClosed: () => void;

  constructor(res: ServerResponse, onClosed: () => void, headers?: OutgoingHttpHeaders) {
    this.res = res;
    this.onClosed = onClosed;
    res.writeHead(200, headers ? { ...SSE_HEADERS, ...headers } : SSE_HEADERS);
    res.flushHeaders();
    res.once('close', () => this.close());
  }

  get open(): boolean {
    return !this.closed;
  }

  event(name: string, data: string): void {
    if (!this.closed) this.res.write(`event: ${name}\ndata: ${data}\n\n`);
  }

  write(message: string, eventId?: number): boolean {
    if (this.closed) return false;
    if (this.res.writableLength > STREAM_BUFFER_LIMIT) {
      this.close();
      return false;
    }
    this.res.write(eventId === undefined ? `event: message\ndata: ${message}\n\n` : `id: ${eventId}\nevent: message\ndata: ${message}\n\n`);
    return true;
  }

  prime(eventId: number): void {
    if (!this.closed) this.res.write(`id: ${eventId}\ndata: \n\n`);
  }

  drop(): void {
    this.close();
    this.res.destroy();
  }

  keepAlive(): void {
    if (!this.closed) this.res.write(': keep-alive\n\n');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.end();
    this.onClosed();
  }
}

/** Legacy SSE: answers travel on the session's stream; the POST itself was answered with 202. */
export class StreamExchange implements Exchange {
  private readonly session: Session;

  constructor(session: Session) {
    this.session = session;
  }

  respond(message: string): void {
    this.session.deliver(message);
  }

  cancelled(): void {}

  relate(message: string): boolean {
    this.session.deliver(message);
    return true;
  }
}
