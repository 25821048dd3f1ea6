/**
 * Client sessions: what the multiplexer knows about each client sharing the backend, and the
 * registry that issues, finds and expires them.
 *
 * A session outlives the HTTP requests that carry it. Messages that belong to no request in progress
 * (list_changed, log messages, server requests whose exchange is gone) go to the session's stream:
 * the Streamable HTTP GET stream, or the legacy SSE stream. While no stream is open they wait in a
 * small backlog (oldest dropped first), delivered when the client opens one.
 */
import { randomUUID } from 'node:crypto';
import { IdTable } from './id-table.ts';
import type { Pending } from './pending.ts';

export type Transport = 'streamable-http' | 'sse';

/** Somewhere messages for a client can be written (an SSE stream). */
export interface MessageSink {
  /** Writes one serialized message; false when the sink is closed. */
  write(message: string): boolean;
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
  /** Requests of this session in flight to the backend, by the client's id. */
  readonly pending = new IdTable<Pending>();
  lastActive: number;
  closed = false;
  private backlog: string[] | undefined;

  constructor(id: string, transport: Transport, now: number) {
    this.id = id;
    this.transport = transport;
    this.lastActive = now;
  }

  /** Sends a message on the session's stream, or keeps it until one opens. */
  deliver(message: string): void {
    if (this.closed) return;
    if (this.stream?.write(message)) return;
    this.backlog ??= [];
    if (this.backlog.length >= BACKLOG_LIMIT) this.backlog.shift();
    this.backlog.push(message);
  }

  attachStream(stream: MessageSink): void {
    this.stream = stream;
    const waiting = this.backlog;
    this.backlog = undefined;
    if (waiting) for (const message of waiting) this.deliver(message);
  }

  detachStream(stream: MessageSink): void {
    if (this.stream === stream) this.stream = undefined;
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
