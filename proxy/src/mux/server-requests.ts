/**
 * Requests from the server to a client (`sampling/createMessage`, `elicitation/create`,
 * `roots/list`, ...) and their answers.
 *
 * Over one stdio stream a server request carries no session, so the proxy attributes it:
 * 1. a `progressToken` in its `_meta` that belongs to a request in flight → that request's session
 *    (and its exchange, when that exchange can carry it);
 * 2. `roots/list` right after a session announced `notifications/roots/list_changed` → that session;
 * 3. the oldest request in flight (a `tools/call` first) from a session able to answer (it declared
 *    the capability) that has not caused a server request yet: a server reads requests in order and
 *    asks while handling them, so its requests come in the order of their causes;
 * 4. otherwise the only session able to answer.
 * If no session can answer, the server gets a JSON-RPC error at once, never silence. The request's id
 * is rewritten to a proxy-unique one and mapped back when the client answers.
 */
import type { Clock, StreamBackend } from '../backends/types.ts';
import { errorResponse, METHOD_NOT_FOUND, REQUEST_TIMEOUT, BACKEND_UNAVAILABLE, type JsonRpcId, type JsonRpcMessage } from '../jsonrpc.ts';
import type { Logger } from '../log.ts';
import type { Pending, PendingTable } from './pending.ts';
import type { ClientCapabilities, Exchange, Session, SessionRegistry } from './session.ts';

const CAPABILITY_OF: Readonly<Record<string, keyof ClientCapabilities>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

interface Route {
  readonly proxyId: number;
  readonly backendId: JsonRpcId;
  readonly session: Session;
  readonly method: string;
  readonly deadline: number;
}

export interface ServerRequestDeps {
  readonly sessions: SessionRegistry;
  readonly pending: PendingTable;
  readonly backend: StreamBackend;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timeoutMs: number;
  /** The session that last sent `notifications/roots/list_changed`. */
  readonly rootsHint: () => Session | undefined;
}

export class ServerRequestRouter {
  private readonly routes = new Map<number, Route>();
  /** Client requests already credited with causing a server request. */
  private readonly attributed = new WeakSet<Pending>();
  private nextId = 1;
  private readonly deps: ServerRequestDeps;

  constructor(deps: ServerRequestDeps) {
    this.deps = deps;
  }

  get size(): number {
    return this.routes.size;
  }

  private pick(message: JsonRpcMessage): { session: Session; exchange?: Exchange } | undefined {
    const capability = CAPABILITY_OF[message.method!];
    const capable = (session: Session): boolean => !session.closed && (capability === undefined || session.capabilities[capability]);
    const related = this.deps.pending.get(message.params?._meta?.progressToken);
    if (related?.session && capable(related.session)) return { session: related.session, exchange: related.exchange };
    const hint = this.deps.rootsHint();
    if (message.method === 'roots/list' && hint && capable(hint)) return { session: hint };
    const cause = this.likelyCause(capable);
    if (cause) {
      this.attributed.add(cause);
      return { session: cause.session!, exchange: cause.exchange };
    }
    let only: Session | undefined;
    for (const session of this.deps.sessions.values()) {
      if (!capable(session)) continue;
      if (only) return undefined;
      only = session;
    }
    return only ? { session: only } : undefined;
  }

  /**
   * The oldest client request in flight, from a session able to answer, that has not been credited
   * with a server request yet; `tools/call` first (tools are what ask clients for things). A server
   * handles requests in the order it reads them and asks while handling them, so its requests arrive
   * in the order of the requests that caused them.
   */
  private likelyCause(capable: (session: Session) => boolean): Pending | undefined {
    let fallback: Pending | undefined;
    for (const pending of this.deps.pending.values()) {
      if (!pending.session || this.attributed.has(pending) || !capable(pending.session)) continue;
      if (pending.method === 'tools/call') return pending;
      fallback ??= pending;
    }
    return fallback;
  }

  /** A request from the server: deliver it to a client, or answer the server with an error. */
  route(message: JsonRpcMessage): void {
    const target = this.pick(message);
    const backendId = message.id as JsonRpcId;
    if (!target) {
      this.deps.logger.warn('server request with no client able to answer', { method: message.method });
      this.deps.backend.send(errorResponse(backendId, METHOD_NOT_FOUND, `no connected client can answer ${message.method}`));
      return;
    }
    const route: Route = {
      proxyId: this.nextId++,
      backendId,
      session: target.session,
      method: message.method!,
      deadline: this.deps.clock.now() + this.deps.timeoutMs,
    };
    this.routes.set(route.proxyId, route);
    message.id = route.proxyId;
    const text = JSON.stringify(message);
    if (!target.exchange?.relate(text)) target.session.deliver(text);
  }

  /** A client's answer to a server request. Answers to unknown or foreign ids are dropped. */
  answer(session: Session, message: JsonRpcMessage): void {
    const route = typeof message.id === 'number' ? this.routes.get(message.id) : undefined;
    if (!route || route.session !== session) {
      this.deps.logger.debug('client answer for no known server request', { session: session.id, id: message.id });
      return;
    }
    this.routes.delete(route.proxyId);
    message.id = route.backendId;
    this.deps.backend.send(JSON.stringify(message));
  }

  /** The server cancelled one of its requests: tell the client that has it. */
  cancelledByServer(message: JsonRpcMessage): void {
    const requestId = message.params?.requestId;
    for (const route of this.routes.values()) {
      if (route.backendId !== requestId) continue;
      this.routes.delete(route.proxyId);
      route.session.deliver(JSON.stringify({ ...message, params: { ...message.params, requestId: route.proxyId } }));
      return;
    }
  }

  private fail(route: Route, code: number, text: string): void {
    this.routes.delete(route.proxyId);
    this.deps.backend.send(errorResponse(route.backendId, code, text));
  }

  sessionEnded(session: Session): void {
    for (const route of [...this.routes.values()]) {
      if (route.session === session) this.fail(route, BACKEND_UNAVAILABLE, `client session ended before answering ${route.method}`);
    }
  }

  /** The backend is gone: its requests died with it. */
  backendLost(): void {
    this.routes.clear();
  }

  sweep(now: number): void {
    for (const route of [...this.routes.values()]) {
      if (route.deadline <= now) this.fail(route, REQUEST_TIMEOUT, `client did not answer ${route.method} in ${this.deps.timeoutMs} ms`);
    }
  }
}
