/**
 * Client sessions: what the multiplexer knows about each client sharing the backend, and the
 * registry that issues, finds and expires them.
 *
 * A session outlives the HTTP requests that carry it. Messages that belong to no request in progress
 * (list_changed, log messages, server requests whose exchange is gone) go to the session's stream:
 * the Streamable HTTP GET stream, or the legacy SSE stream. While no stream is open they wait in a
 * small backlog (oldest dropped first), delivered when the client opens one.
 *
 * A Streamable HTTP session's stream is resumable: every message sent on it carries an event id
 * (1, 2, 3, ... per session), and the last ones sent are kept, so a client whose stream died with
 * messages still in the network (a silently dropped connection, a proxy in the path timing out)
 * reconnects with `Last-Event-ID` and gets them again. Legacy SSE has no resumption: closing its
 * stream ends the session.
 */
import { randomUUID } from 'node:crypto';
import { IdTable } from './id-table.ts';
import type { Pending } from './pending.ts';

export type Transport = 'streamable-http' | 'sse';

/** Somewhere messages for a client can be written (an SSE stream). */
export interface MessageSink {
  /** Writes one serialized message, with its event id on a resumable stream; false when the sink is closed. */
  write(message: string, eventId?: number): boolean;
  /** An event with an id and no data: where a client that loses the stream now resumes from. */
  prime?(eventId: number): void;
  /** Ends the stream at once, dropping what is queued for it: its client has gone elsewhere. */
  drop?(): void;
  /** Ends the stream (the session ended). */
  close(): void;
}

/**
 * The HTTP exchange that carried one or more client requests (one POST). The multiplexer sends each
 * request's response to it, and messages related to those requests when it can carry them.
 */
export interface Exchange {
  respond(message: string): void;
  /**
   * Its client cancelled one of this exchange's requests: it gets no response (the receiver of a
   * cancellation should not send one, and the client has forgotten the id), but it is settled.
   */
  cancelled(): void;
  /** A progress notification or server request related to a request of this exchange; false if it cannot be carried. */
  relate(message: string): boolean;
}

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

const BACKLOG_LIMIT = 256;
/** Messages sent on a resumable stream that are kept for a client resuming it: at most this many... */
const REPLAY_EVENTS_LIMIT = 256;
/** ...and at most this much JSON (UTF-16 code units, about bytes), oldest dropped first... */
const REPLAY_CHARS_LIMIT = 1024 * 1024;
/** ...while all sessions together keep at most this much: a session over it drops its own oldest first. */
const REPLAY_CHARS_BUDGET = 32 * 1024 * 1024;
let replayCharsTotal = 0;

/** What attaching a stream sent again, and what a resuming client had missed that is no longer kept. */
export interface Resumption {
  readonly replayed: number;
  /** Ids after the client's last one that are no longer kept (messages, or id-only events that opened a stream). */
  readonly lost: number;
}

export interface ClientCapabilities {
  readonly sampling: boolean;
  readonly elicitation: boolean;
  readonly roots: boolean;
}

export class Session {
  readonly id: string;
  readonly transport: Transport;
  protocolVersion = '';
  initialized = false;
  capabilities: ClientCapabilities = { sampling: false, elicitation: false, roots: false };
  clientName = '';
  /** Index in LOG_LEVELS of the lowest level the client asked for; -1: it never asked (gets no log messages). */
  logLevel = -1;
  subscriptions: Set<string> | undefined;
  stream: MessageSink | undefined;
  /** When the current stream was opened by a resuming client (clock ms); undefined for a fresh one. */
  streamResumedAt: number | undefined;
  /** Requests of this session in flight to the backend, by the client's id. */
  readonly pending = new IdTable<Pending>();
  lastActive: number;
  closed = false;
  private backlog: string[] | undefined;
  /** The id of the last event sent on the session's stream (0: none yet). */
  private lastEventId = 0;
  /** The last events sent, oldest first, for a client resuming the stream. */
  private sent: { readonly id: number; readonly message: string }[] = [];
  private sentChars = 0;

  constructor(id: string, transport: Transport, now: number) {
    this.id = id;
    this.transport = transport;
    this.lastActive = now;
  }

  /** Whether the stream's events carry ids a client can resume from (Streamable HTTP). */
  get resumable(): boolean {
    return this.transport === 'streamable-http';
  }

  /** The id of the last event sent on the session's stream; 0 before the first. */
  get lastSentEventId(): number {
    return this.lastEventId;
  }

  /** Sends a message on the session's stream, or keeps it until one opens. */
  deliver(message: string): void {
    if (this.closed) return;
    if (this.stream) {
      if (!this.resumable) {
        if (this.stream.write(message)) return;
      } else if (this.stream.write(message, this.lastEventId + 1)) {
        this.remember(message);
        return;
      }
    }
    this.backlog ??= [];
    if (this.backlog.length >= BACKLOG_LIMIT) this.backlog.shift();
    this.backlog.push(message);
  }

  /**
   * Makes `stream` the session's stream. `resumeAfter` (a resuming client's `Last-Event-ID`, at most
   * `lastSentEventId`) sends the kept events after it first; then what waited in the backlog goes
   * out. `prime` ends with an id-only event when nothing else was sent, so the client can resume
   * even a stream that never carried a message.
   */
  attachStream(stream: MessageSink, options: { readonly resumeAfter?: number; readonly prime?: boolean } = {}): Resumption {
    this.stream = stream;
    let replayed = 0;
    let lost = 0;
    const after = options.resumeAfter;
    if (after !== undefined && this.resumable) {
      const oldestKept = this.sent[0]?.id ?? this.lastEventId + 1;
      lost = Math.max(0, oldestKept - after - 1);
      // What the client saw is confirmed: no need to keep it any longer.
      while (this.sent.length > 0 && this.sent[0]!.id <= after) this.dropOldest();
      for (const event of this.sent) {
        if (stream.write(event.message, event.id)) replayed += 1;
      }
    }
    const before = this.lastEventId;
    const waiting = this.backlog;
    this.backlog = undefined;
    if (waiting) for (const message of waiting) this.deliver(message);
    if (options.prime && this.resumable && replayed === 0 && this.lastEventId === before && this.stream === stream && stream.prime) {
      // Its own id: event ids are unique across all of a session's streams.
      this.lastEventId += 1;
      stream.prime(this.lastEventId);
    }
    return { replayed, lost };
  }

  detachStream(stream: MessageSink): void {
    if (this.stream === stream) this.stream = undefined;
  }

  /** Lets go of the kept events (the session ended). */
  forgetSent(): void {
    while (this.sent.length > 0) this.dropOldest();
  }

  private remember(message: string): void {
    this.lastEventId += 1;
    this.sent.push({ id: this.lastEventId, message });
    this.sentChars += message.length;
    replayCharsTotal += message.length;
    while (this.sent.length > 0
      && (this.sent.length > REPLAY_EVENTS_LIMIT || this.sentChars > REPLAY_CHARS_LIMIT || replayCharsTotal > REPLAY_CHARS_BUDGET)) {
      this.dropOldest();
    }
  }

  private dropOldest(): void {
    const dropped = this.sent.shift()!.message.length;
    this.sentChars -= dropped;
    replayCharsTotal -= dropped;
  }
}

export interface SessionEvents {
  created(session: Session): void;
  ended(session: Session, reason: string): void;
}

export class SessionRegistry {
  private readonly sessions = new IdTable<Session>();
  private readonly counts: Record<Transport, number> = { 'streamable-http': 0, sse: 0 };
  private readonly maxSessions: number;
  private readonly idleTimeoutMs: number;
  private readonly events: SessionEvents;

  constructor(maxSessions: number, idleTimeoutMs: number, events: SessionEvents) {
    this.maxSessions = maxSessions;
    this.idleTimeoutMs = idleTimeoutMs;
    this.events = events;
  }

  get size(): number {
    return this.sessions.size;
  }

  count(transport: Transport): number {
    return this.counts[transport];
  }

  /** A new session, or undefined when `maxSessions` are live. */
  create(transport: Transport, now: number): Session | undefined {
    if (this.sessions.size >= this.maxSessions) return undefined;
    const session = new Session(randomUUID(), transport, now);
    this.sessions.set(session.id, session);
    this.counts[transport] += 1;
    this.events.created(session);
    return session;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  values(): Session[] {
    return this.sessions.values();
  }

  end(session: Session, reason: string): void {
    if (session.closed || this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.counts[session.transport] -= 1;
    session.closed = true;
    session.forgetSent();
    this.events.ended(session, reason);
    const stream = session.stream;
    session.stream = undefined;
    stream?.close();
  }

  /** Ends sessions idle for longer than the idle timeout: no request in flight, no open stream. */
  sweep(now: number): void {
    const cutoff = now - this.idleTimeoutMs;
    for (const session of this.sessions.values()) {
      if (session.lastActive < cutoff && session.pending.size === 0 && session.stream === undefined) {
        this.end(session, 'idle timeout');
      }
    }
  }
}
