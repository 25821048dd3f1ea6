/**
 * Requests from the server to a client (`sampling/createMessage`, `elicitation/create`,
 * `roots/list`, ...) and their answers.
 *
 * Over one stdio stream a server request carries no session. A request delivered to the wrong client
 * shows that client another's data (a sampling prompt) and lets it answer for them, so the proxy
 * delivers one only on evidence, among the sessions able to answer (they declared the capability):
 * 1. a `progressToken` in its `_meta` that belongs to a request in flight → that request's session
 *    (and its exchange, when that exchange can carry it);
 * 2. `roots/list` as the first server request after a session announced
 *    `notifications/roots/list_changed`, within a few seconds and from the same process → that session;
 * 3. exactly one of them has requests in flight → that session (a server asks while handling a
 *    request), on the exchange of its oldest `tools/call` when that exchange can carry it;
 * 4. none has requests in flight and exactly one exists → that session.
 * Anything else is ambiguous: the server gets a JSON-RPC error at once naming why, never a guess and
 * never silence; the same when no session can answer. The request's id is rewritten to a
 * proxy-unique one and mapped back when the client answers.
 *
 * A delivered request waits for its client's answer across a lost connection: the process may
 * live on (a dropped attach) and still wait for it, so the answer is held until a re-attach finds
 * that process (held.ts). When the process is replaced, or the client takes longer than the
 * request timeout, the proxy stops waiting and tells the client so with `notifications/cancelled`
 * (and the server, on a timeout, with an error).
 *
 * A progress token is evidence even when it cannot be followed: one naming a request in flight of
 * a session unable to answer, or a request that has ended, gets the request refused, never passed
 * on to rules 3 and 4.
 *
 * Rules 3 and 4 hold only while every request the server works on is one the proxy tracks. A
 * request that ended without the server's answer (timed out in the proxy, cancelled, its session
 * gone, failed when the connection to a process that lives on was lost) may still be running in
 * the server, which may then ask a client about it. The server is told to cancel it (at once, or on
 * re-attach for a connection that was lost), and until `CANCEL_GRACE_MS` after that (however long
 * the re-attach takes), or until the process is replaced, rules 3 and 4 pick no session other than
 * its own: a sampling prompt of client A does not reach client B, as long as the server honours a
 * cancellation within the grace (MCP asks it to; a server that asks later about work it was told
 * to drop, with no progress token, is routed by rules 3 and 4 again).
 */
import type { Clock } from '../backends/types.ts';
import { errorResponse, METHOD_NOT_FOUND, REQUEST_TIMEOUT, BACKEND_UNAVAILABLE, type JsonRpcId, type JsonRpcMessage } from '../jsonrpc.ts';
import type { Logger } from '../log.ts';
import type { Pending, PendingTable } from './pending.ts';
import type { ClientCapabilities, Exchange, Session, SessionRegistry } from './session.ts';

const CAPABILITY_OF: Readonly<Record<string, keyof ClientCapabilities>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/**
 * How long a server may still ask about a request after it was told to cancel it: MCP asks a
 * receiver of a cancellation to stop, so this covers only questions already on their way.
 */
export const CANCEL_GRACE_MS = 5_000;

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
  /** Sends to the server, or holds the message for it while it cannot be reached (held.ts). */
  readonly toServer: (text: string) => void;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timeoutMs: number;
  /** The session that last sent `notifications/roots/list_changed`, once: the hint is used up by the first `roots/list`. */
  readonly takeRootsHint: () => Session | undefined;
}

export class ServerRequestRouter {
  private readonly routes = new Map<number, Route>();
  /**
   * Sessions with abandoned requests the server may still be working on, and until when. One entry
   * per session however many requests it abandons (bounded by the sessions), each dropped once its
   * time has passed.
   */
  private readonly abandonedUntil = new Map<Session, number>();
  private nextId = 1;
  private readonly deps: ServerRequestDeps;

  constructor(deps: ServerRequestDeps) {
    this.deps = deps;
  }

  get size(): number {
    return this.routes.size;
  }

  private pick(message: JsonRpcMessage): { session: Session; exchange?: Exchange } | string {
    const method = message.method!;
    const capability = CAPABILITY_OF[method];
    const capable = (session: Session): boolean => !session.closed && (capability === undefined || session.capabilities[capability]);
    const token = message.params?._meta?.progressToken;
    const related = this.deps.pending.byProgressToken(token);
    if (related) {
      if (related.session && capable(related.session)) return { session: related.session, exchange: related.exchange };
      return `${method} is for a request of a client that cannot answer it (it did not declare ${capability ?? 'the capability'}, or has gone); ` +
        'the proxy passes it to no other client';
    }
    if (this.deps.pending.issuedProgressToken(token)) {
      return `${method} is for a request that has ended (answered, timed out, cancelled or cut off by a lost connection); ` +
        'the proxy passes it to no client';
    }
    const hint = method === 'roots/list' ? this.deps.takeRootsHint() : undefined;
    if (hint && capable(hint)) return this.strays(hint, method) ?? { session: hint };
    // Each capable session with requests in flight, and its oldest request (a tools/call first).
    const busy = new Map<Session, Pending>();
    for (const pending of this.deps.pending.values()) {
      const session = pending.session;
      if (!session || !capable(session)) continue;
      const first = busy.get(session);
      if (!first || (first.method !== 'tools/call' && pending.method === 'tools/call')) busy.set(session, pending);
    }
    if (busy.size === 1) {
      const [[session, cause]] = busy;
      return this.strays(session, method) ?? { session, exchange: cause.exchange };
    }
    if (busy.size > 1) {
      return `cannot tell which client ${method} is for: ${busy.size} sessions able to answer have requests in flight and it carries ` +
        'no progress token of theirs; the proxy does not guess, as a wrong guess would show one client another\'s data';
    }
    const idle = [...this.deps.sessions.values()].filter(capable);
    if (idle.length === 1) return this.strays(idle[0]!, method) ?? { session: idle[0]! };
    return idle.length === 0
      ? `no connected client can answer ${method}`
      : `cannot tell which client ${method} is for: ${idle.length} sessions can answer and none has a request in flight`;
  }

  /** Why `session` cannot be assumed to be the asker: other sessions' abandoned requests may be running. */
  private strays(session: Session, method: string): string | undefined {
    this.expire(this.deps.clock.now());
    let others = 0;
    for (const owner of this.abandonedUntil.keys()) if (owner !== session) others += 1;
    return others === 0 ? undefined
      : `cannot tell which client ${method} is for: the server may still be working on requests of ${others} other session(s) ` +
        'that ended without its answer (timed out, cancelled, or cut off by a lost connection), and it carries no progress token ' +
        'of a request in flight; the proxy does not guess, as a wrong guess would show one client another\'s data';
  }

  /**
   * `session` gave up a request the server may still be working on, for `forMs` more: the grace
   * after a cancellation the server has been sent, or longer while it cannot be sent (the
   * connection is down).
   */
  abandon(session: Session, forMs = CANCEL_GRACE_MS): void {
    const until = this.deps.clock.now() + forMs;
    if ((this.abandonedUntil.get(session) ?? 0) < until) this.abandonedUntil.set(session, until);
  }

  /** The server has now been told to cancel `session`'s abandoned requests: only the grace remains. */
  cancellationsDelivered(session: Session): void {
    this.abandonedUntil.set(session, this.deps.clock.now() + CANCEL_GRACE_MS);
  }

  /**
   * A new server process: no work of the old one can still ask anything, and its questions still
   * with clients will never be taken: they are withdrawn from those clients.
   */
  processReplaced(): void {
    this.abandonedUntil.clear();
    for (const route of this.routes.values()) this.withdraw(route, `the server process that sent ${route.method} was replaced`);
    this.routes.clear();
  }

  /** Sessions whose abandoned requests may still ask something (for tests and diagnostics). */
  get abandonedSessions(): number {
    this.expire(this.deps.clock.now());
    return this.abandonedUntil.size;
  }

  private expire(now: number): void {
    for (const [session, until] of this.abandonedUntil) if (until <= now) this.abandonedUntil.delete(session);
  }

  /** A request from the server: deliver it to a client, or answer the server with an error. */
  route(message: JsonRpcMessage): void {
    const target = this.pick(message);
    const backendId = message.id as JsonRpcId;
    if (typeof target === 'string') {
      this.deps.logger.warn('server request not delivered', { method: message.method, reason: target });
      this.deps.toServer(errorResponse(backendId, METHOD_NOT_FOUND, target));
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
    this.deps.toServer(JSON.stringify(message));
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
    this.deps.toServer(errorResponse(route.backendId, code, text));
  }

  /** Tells the client holding `route` that the proxy no longer waits for its answer. */
  private withdraw(route: Route, reason: string): void {
    route.session.deliver(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: route.proxyId, reason } }));
  }

  sessionEnded(session: Session): void {
    for (const route of [...this.routes.values()]) {
      if (route.session === session) this.fail(route, BACKEND_UNAVAILABLE, `client session ended before answering ${route.method}`);
    }
  }

  sweep(now: number): void {
    for (const route of [...this.routes.values()]) {
      if (route.deadline > now) continue;
      const text = `client did not answer ${route.method} in ${this.deps.timeoutMs} ms`;
      this.withdraw(route, text);
      this.fail(route, REQUEST_TIMEOUT, text);
    }
    this.expire(now);
  }
}
