/**
 * Drivers speak to one running target. The generator only knows this interface, so a target that
 * speaks Streamable HTTP and the raw stdio pipe are measured by the same loop.
 *
 * `echo` (shared mode) calls `tools/call echo` in one of the sessions opened by `prepare`; `unit`
 * (unique mode) is a whole session: initialize → notifications/initialized → tools/call → DELETE.
 * Each resolves to undefined on success or the failure kind, within the request timeout; neither
 * ever rejects.
 */
import type { ChildProcess } from 'node:child_process';
import { HttpConnection, TransportError } from './http-client.ts';
import type { HttpResponse } from './http-client.ts';
import { INITIALIZED_BODY, PROTOCOL_VERSION, checkReply, echoBody, initializeBody, messagesOf } from './mcp.ts';
import type { FailureKind } from './mcp.ts';

export interface Driver {
  /** Opens `sessions` shared sessions (not timed); 0 for unique mode. */
  prepare(sessions: number): Promise<void>;
  echo(worker: number, payload: string): Promise<FailureKind | undefined>;
  unit(worker: number, payload: string): Promise<FailureKind | undefined>;
  /** Ends the shared sessions and closes every connection. */
  finish(): Promise<void>;
}

const ACCEPT = 'Accept: application/json, text/event-stream\r\n';

interface Session {
  readonly id: string | undefined;
  readonly headers: string;
  nextId: number;
}

function sessionHeaders(id: string | undefined): string {
  return id === undefined ? `${ACCEPT}Mcp-Protocol-Version: ${PROTOCOL_VERSION}\r\n` : `${ACCEPT}Mcp-Session-Id: ${id}\r\nMcp-Protocol-Version: ${PROTOCOL_VERSION}\r\n`;
}

function failureOf(error: unknown): FailureKind {
  return error instanceof TransportError ? error.kind : 'connection';
}

function statusFailure(response: HttpResponse): FailureKind | undefined {
  return response.status >= 200 && response.status < 300 ? undefined : `http ${response.status}`;
}

/** A Streamable HTTP endpoint; one keep-alive connection per worker, like one client each. */
export class HttpDriver implements Driver {
  private readonly connections: HttpConnection[] = [];
  private sessions: Session[] = [];
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;
  private readonly timeoutMs: number;

  constructor(options: { host: string; port: number; path?: string; timeoutMs: number }) {
    this.host = options.host;
    this.port = options.port;
    this.path = options.path ?? '/mcp';
    this.timeoutMs = options.timeoutMs;
  }

  async prepare(count: number): Promise<void> {
    const setup = new HttpConnection(this.host, this.port);
    try {
      for (let i = 0; i < count; i++) {
        const opened = await this.open(setup);
        if (typeof opened === 'string') throw new Error(`opening shared session ${i + 1}/${count} failed: ${opened}`);
        this.sessions.push(opened);
      }
    } finally {
      setup.close();
    }
  }

  async echo(worker: number, payload: string): Promise<FailureKind | undefined> {
    const session = this.sessions[worker % this.sessions.length]!;
    return this.call(this.connection(worker), session, payload);
  }

  async unit(worker: number, payload: string): Promise<FailureKind | undefined> {
    const connection = this.connection(worker);
    const session = await this.open(connection);
    if (typeof session === 'string') return session;
    const failure = await this.call(connection, session, payload);
    const closed = await this.close(connection, session);
    return failure ?? closed;
  }

  async finish(): Promise<void> {
    const teardown = new HttpConnection(this.host, this.port);
    for (const session of this.sessions) await this.close(teardown, session);
    teardown.close();
    this.sessions = [];
    for (const connection of this.connections) connection?.close();
    this.connections.length = 0;
  }

  private connection(worker: number): HttpConnection {
    return (this.connections[worker] ??= new HttpConnection(this.host, this.port));
  }

  private async post(connection: HttpConnection, headers: string, body: string): Promise<HttpResponse | FailureKind> {
    try {
      return await connection.request('POST', this.path, headers, body, this.timeoutMs);
    } catch (error) {
      return failureOf(error);
    }
  }

  /** initialize + notifications/initialized; a stateless server answers without a session id. */
  private async open(connection: HttpConnection): Promise<Session | FailureKind> {
    const init = await this.post(connection, sessionHeaders(undefined), initializeBody(1));
    if (typeof init === 'string') return init;
    const failure = statusFailure(init) ?? this.replyFailure(init, 1, undefined);
    if (failure) return failure;
    const session: Session = { id: init.sessionId, headers: sessionHeaders(init.sessionId), nextId: 2 };
    const ack = await this.post(connection, session.headers, INITIALIZED_BODY);
    if (typeof ack === 'string') return ack;
    return statusFailure(ack) ?? session;
  }

  private async call(connection: HttpConnection, session: Session, payload: string): Promise<FailureKind | undefined> {
    const id = session.nextId++;
    const response = await this.post(connection, session.headers, echoBody(id, payload));
    if (typeof response === 'string') return response;
    return statusFailure(response) ?? this.replyFailure(response, id, payload);
  }

  private async close(connection: HttpConnection, session: Session): Promise<FailureKind | undefined> {
    if (session.id === undefined) return undefined; // stateless: nothing to end
    try {
      const response = await connection.request('DELETE', this.path, session.headers, undefined, this.timeoutMs);
      // 405 is the spec's answer of a server that does not let clients end sessions.
      return response.status === 405 ? undefined : statusFailure(response);
    } catch (error) {
      return failureOf(error);
    }
  }

  private replyFailure(response: HttpResponse, id: number, payload: string | undefined): FailureKind | undefined {
    const messages = messagesOf(response.contentType, response.body);
    return messages ? checkReply(messages, id, payload) : 'invalid';
  }
}

interface StdioPending {
  readonly payload: string | undefined;
  readonly deadline: number;
  resolve(outcome: FailureKind | undefined): void;
}

/**
 * JSON lines straight into the server's stdin: the upper bound, with no bridge at all. "Concurrency"
 * here is requests in flight on the one pipe; unique mode sends the three messages of a session
 * start (the stdio server answers every initialize) but has no DELETE.
 */
export class StdioDriver implements Driver {
  private readonly pending = new Map<number, StdioPending>();
  private nextId = 1;
  private rest = '';
  private sweeper: NodeJS.Timeout | undefined;
  private readonly child: ChildProcess;
  private readonly timeoutMs: number;
  private readonly dataListener = (text: string): void => this.onData(text);
  private readonly exitListener = (): void => this.failAll('connection');

  constructor(child: ChildProcess, timeoutMs: number) {
    this.child = child;
    this.timeoutMs = timeoutMs;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', this.dataListener);
    child.once('exit', this.exitListener);
  }

  async prepare(): Promise<void> {}

  echo(_worker: number, payload: string): Promise<FailureKind | undefined> {
    const id = this.nextId++;
    return this.send(id, echoBody(id, payload), payload);
  }

  async unit(_worker: number, payload: string): Promise<FailureKind | undefined> {
    const initId = this.nextId++;
    const init = await this.send(initId, initializeBody(initId), undefined);
    if (init) return init;
    this.child.stdin!.write(INITIALIZED_BODY + '\n');
    return this.echo(0, payload);
  }

  /** Ends the cell: a driver is made per cell on the same child, so it must stop listening to it. */
  async finish(): Promise<void> {
    this.child.stdout!.off('data', this.dataListener);
    this.child.off('exit', this.exitListener);
    this.failAll('connection');
  }

  /** Times requests out; runs only while some are in flight. */
  private sweep(): void {
    const now = performance.now();
    for (const [id, pending] of this.pending) {
      if (now > pending.deadline) {
        this.pending.delete(id);
        pending.resolve('timeout');
      }
    }
    if (this.pending.size === 0) { clearInterval(this.sweeper); this.sweeper = undefined; }
  }

  private send(id: number, line: string, payload: string | undefined): Promise<FailureKind | undefined> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve('connection');
    return new Promise((resolve) => {
      this.pending.set(id, { payload, deadline: performance.now() + this.timeoutMs, resolve });
      this.sweeper ??= setInterval(() => this.sweep(), 50).unref();
      this.child.stdin!.write(line + '\n');
    });
  }

  private onData(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      const messages = messagesOf('application/json', line);
      const id = messages?.[0]?.id;
      if (typeof id !== 'number') continue; // notifications, or noise a bench cannot attribute
      const pending = this.pending.get(id);
      if (!pending) continue; // already timed out
      this.pending.delete(id);
      pending.resolve(checkReply(messages!, id, pending.payload));
    }
  }

  private failAll(kind: FailureKind): void {
    for (const pending of this.pending.values()) pending.resolve(kind);
    this.pending.clear();
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
