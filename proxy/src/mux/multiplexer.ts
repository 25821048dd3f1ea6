/**
 * Many client sessions over one backend stdio stream.
 *
 * Client → backend: request ids become backend-unique integers (mapped back on the answer), progress
 * tokens become that integer too (so a progress notification finds its request with one lookup),
 * `notifications/cancelled` is rewritten to the backend id, `ping` is answered here, and
 * `notifications/initialized` never reaches the backend (the proxy initialized it once). Answers and
 * notifications that come while the backend is unreachable are held for a re-attach that finds the
 * same process (held.ts).
 * Backend → clients: responses go to the exchange that carried the request; progress to its owner;
 * `*\/list_changed` to every session; log messages to sessions that set a level at or below theirs;
 * `resources/updated` to the sessions subscribed to the resource; server requests via the router.
 *
 * Every request ends exactly once (`finish` removes it from the table first): answered, failed when
 * the backend goes down, timed out by the sweep (with a cancellation to the backend), cancelled by
 * its client, or cancelled because its session ended.
 */
import type { Clock, StreamBackend } from '../backends/types.ts';
import { STDIO_LINE_LIMIT_BYTES, type ResolvedProxyConfig } from '../config-validate.ts';
import {
  classify, trailingId, BACKEND_UNAVAILABLE, INVALID_REQUEST, REQUEST_CANCELLED, REQUEST_TIMEOUT, errorResponse, isValidId, resultResponse,
  type JsonRpcId, type JsonRpcMessage, type MessageKind,
} from '../jsonrpc.ts';
import type { Logger } from '../log.ts';
import { negotiateVersion } from '../protocol.ts';
import { methodLabel, toolNamesOf, type RequestStatus, type SpanStart, type Telemetry } from '../telemetry/telemetry.ts';
import { HeldForProcess } from './held.ts';
import { BackendLifecycle } from './lifecycle.ts';
import { PendingTable, progressTokenFor, type Pending } from './pending.ts';
import { ServerRequestRouter } from './server-requests.ts';
import { LOG_LEVELS, SessionRegistry, type Exchange, type Session } from './session.ts';
import { SharedServerState } from './shared-state.ts';
import { routeServerNotification, type NotificationRoutes } from './notifications.ts';
import type { IncomingHttpHeaders } from 'node:http';

export interface MultiplexerDeps {
  readonly backend: StreamBackend;
  readonly config: ResolvedProxyConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
}

const TOOLS_LIST_MAX_PAGES = 20;

/**
 * How long a `notifications/roots/list_changed` stays evidence that the next `roots/list` is for
 * its session: a server that reacts asks at once; a later `roots/list` may be about anything.
 */
const ROOTS_HINT_MS = 5_000;

/**
 * A cancellation written into a connection that had silently died is lost, and the default idle
 * probe notices such a connection within 40 s. So cancellations of the last minute are sent again
 * when a connection is lost and a re-attach finds the same process (a repeat is harmless: a
 * receiver ignores cancellations of requests it no longer has).
 */
const RESEND_CANCELS_WITHIN_MS = 60_000;
const MAX_RECENT_CANCELS = 10_000;

/**
 * Why `line` must not reach the server's stdin, if it must not. The body limit keeps what a client
 * sends below the line MCP SDK stdio servers exit on, but serializing a message again can make it
 * longer (`9e20` is written `900000000000000000000`).
 */
function overLineLimit(line: string): string | undefined {
  if (line.length * 3 < STDIO_LINE_LIMIT_BYTES) return undefined;
  const bytes = Buffer.byteLength(line);
  return bytes < STDIO_LINE_LIMIT_BYTES ? undefined
    : `it is ${bytes} bytes once serialized for the server, over the ${STDIO_LINE_LIMIT_BYTES}-byte line that stdio servers accept`;
}

export class Multiplexer {
  readonly sessions: SessionRegistry;
  readonly lifecycle: BackendLifecycle;
  private readonly pending: PendingTable;
  private readonly serverRequests: ServerRequestRouter;
  private readonly deps: MultiplexerDeps;
  private readonly maxInFlight: number;
  private readonly maxStdinBacklog: number;
  /** The backlog reached `limits.maxStdinBacklogBytes` and has not been under half of it since. */
  private stdinCongested = false;
  /** Per-request log lines only at debug level; checked once, not per request. */
  private readonly debug: boolean;
  /** The proxy's own requests in flight (handshake, tools/list...): they do not use clients' capacity. */
  private internalInFlight = 0;
  /** The session that last announced `notifications/roots/list_changed`, and when (see `ROOTS_HINT_MS`). */
  private rootsHint: { readonly session: Session; readonly at: number } | undefined;
  /** Subscriptions whose last session ended while the backend was not ready: dropped from the server once it is. */
  private readonly unsubscribeWhenReady = new Set<string>();
  /** Requests failed by a lost connection, to cancel in the process if a re-attach finds it alive. */
  private cutOff: { readonly backendId: number; readonly session: Session }[] = [];
  /** Cancellations sent lately, oldest first: to send again if the connection they went into was dead. */
  private recentCancels: { readonly backendId: number; readonly session: Session; readonly at: number }[] = [];
  /** Client answers and notifications that came while the server was unreachable (held.ts). */
  private readonly held: HeldForProcess;
  private initTextSource: Record<string, unknown> | undefined;
  private readonly initTexts = new Map<string, string>();
  private readonly shared: SharedServerState;
  private readonly notificationRoutes: NotificationRoutes;

  constructor(deps: MultiplexerDeps) {
    this.deps = deps;
    const limits = deps.config.limits;
    this.maxInFlight = limits.maxInFlight;
    this.maxStdinBacklog = limits.maxStdinBacklogBytes;
    this.debug = deps.logger.isEnabled('debug');
    this.pending = new PendingTable(limits.requestTimeoutMs);
    this.sessions = new SessionRegistry(limits.maxSessions, limits.sessionIdleTimeoutMs, {
      created: (session) => deps.logger.debug('session created', { session: session.id, transport: session.transport }),
      ended: (session, reason) => this.onSessionEnded(session, reason),
    });
    this.lifecycle = new BackendLifecycle({
      logger: deps.logger,
      clock: deps.clock,
      telemetry: deps.telemetry,
      request: (method, params, callback) => this.internalRequest(method, params, callback),
      notify: (method, params) => deps.backend.send(JSON.stringify(params ? { jsonrpc: '2.0', method, params } : { jsonrpc: '2.0', method })),
      onReady: (newProcess) => this.onBackendReady(newProcess),
      onDown: (reason) => this.onBackendDown(reason),
    });
    this.shared = new SharedServerState(this.sessions);
    this.held = new HeldForProcess(deps.logger);
    this.serverRequests = new ServerRequestRouter({
      sessions: this.sessions,
      pending: this.pending,
      toServer: (text) => this.toServer(text),
      clock: deps.clock,
      logger: deps.logger,
      timeoutMs: limits.requestTimeoutMs,
      takeRootsHint: () => {
        const hint = this.rootsHint;
        this.rootsHint = undefined;
        return hint && !hint.session.closed && deps.clock.now() - hint.at <= ROOTS_HINT_MS ? hint.session : undefined;
      },
    });
    this.notificationRoutes = {
      pending: this.pending,
      sessions: this.sessions,
      shared: this.shared,
      serverRequests: this.serverRequests,
      logger: deps.logger,
      toolsChanged: () => this.refreshTools(),
    };
  }

  start(): void {
    this.deps.backend.onMessage((line) => {
      try {
        this.onBackendLine(line);
      } catch (error) {
        // One message must never take every session down with the process.
        this.deps.logger.error('failed to handle a message from the backend: dropped', { error: error as Error, line: line.slice(0, 200) });
      }
    });
    this.deps.backend.onStatus((status) => this.lifecycle.onStatus(status));
    this.deps.backend.start();
  }

  /** Client requests in flight to the backend (the proxy's own few requests not counted). */
  get inFlight(): number {
    return this.pending.size - this.internalInFlight;
  }

  /** Sessions whose abandoned requests the server may still ask about (see server-requests.ts). */
  get abandonedSessions(): number {
    return this.serverRequests.abandonedSessions;
  }

  /** Client messages held for the server while it is unreachable (for tests and diagnostics). */
  get heldForServer(): number {
    return this.held.size;
  }

  /** Whether `count` more client requests fit under `limits.maxInFlight` (waiters for readiness count too). */
  hasCapacity(count: number): boolean {
    return this.inFlight + this.lifecycle.waiting + count <= this.maxInFlight;
  }

  /** Bytes sent toward the server's stdin that it has not taken yet (as far as the proxy can see). */
  get stdinBacklog(): number {
    return this.deps.backend.stdinBacklog();
  }

  /**
   * Why the server counts as not reading its stdin, if it does: the backlog reached
   * `limits.maxStdinBacklogBytes`, and has not been under half of it since (no flapping on a burst).
   */
  stdinCongestion(): string | undefined {
    if (!this.lifecycle.ready) {
      // What waited went with the connection or the process (its loss is logged as such).
      this.stdinCongested = false;
      return undefined;
    }
    const backlog = this.stdinBacklog;
    const limit = this.maxStdinBacklog;
    if (backlog < (this.stdinCongested ? limit / 2 : limit)) {
      if (this.stdinCongested) {
        this.stdinCongested = false;
        this.deps.logger.info('the server is reading its stdin again: accepting requests', { stdinBacklogBytes: backlog });
      }
      return undefined;
    }
    if (!this.stdinCongested) {
      this.stdinCongested = true;
      this.deps.logger.warn('the server is not reading its stdin: refusing new requests until the backlog is under half the limit', {
        stdinBacklogBytes: backlog, maxStdinBacklogBytes: limit,
      });
    }
    return `the server is not reading its stdin: ${backlog} bytes wait for it (limits.maxStdinBacklogBytes ${limit})`;
  }

  /**
   * Why a client message carrying `requests` requests cannot be taken now, if it cannot: requests
   * not while the stdin backlog is congested; notifications and answers not at twice the limit.
   */
  stdinRefusal(requests: number): string | undefined {
    const congestion = this.stdinCongestion();
    if (!congestion) return undefined;
    return requests > 0 || this.stdinBacklog >= 2 * this.maxStdinBacklog ? congestion : undefined;
  }

  // ---- client → backend ------------------------------------------------------------------------

  /** Answers a client's `initialize` from the cached backend handshake (the backend must be ready). */
  initialize(session: Session, message: JsonRpcMessage): string {
    const params = message.params ?? {};
    const capabilities = (params.capabilities ?? {}) as Record<string, unknown>;
    session.capabilities = {
      sampling: capabilities.sampling !== undefined,
      elicitation: capabilities.elicitation !== undefined,
      roots: capabilities.roots !== undefined,
    };
    const clientInfo = params.clientInfo as { name?: unknown } | undefined;
    session.clientName = typeof clientInfo?.name === 'string' ? clientInfo.name.slice(0, 100) : '';
    session.protocolVersion = negotiateVersion(params.protocolVersion, this.lifecycle.backendProtocolVersion);
    session.initialized = true;
    this.deps.telemetry.request('initialize', 'success', session.transport, 0, undefined);
    return `{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":${this.initResultText(session.protocolVersion)}}`;
  }

  /** The cached handshake result as JSON, per negotiated version (serialized once, not per client). */
  private initResultText(version: string): string {
    if (this.initTextSource !== this.lifecycle.initResult) {
      this.initTextSource = this.lifecycle.initResult;
      this.initTexts.clear();
    }
    let text = this.initTexts.get(version);
    if (text === undefined) this.initTexts.set(version, (text = JSON.stringify({ ...this.lifecycle.initResult, protocolVersion: version })));
    return text;
  }

  /** One classified client message of `session`, carried by `exchange` (requests get their response there). */
  fromClient(session: Session, message: JsonRpcMessage, kind: MessageKind, exchange: Exchange, headers?: IncomingHttpHeaders): void {
    if (kind === 'response') return this.serverRequests.answer(session, message);
    if (kind === 'notification') return this.clientNotification(session, message);
    if (session.pending.get(message.id as JsonRpcId) !== undefined) {
      // Before anything of the request takes effect. MCP forbids reusing a request id in a session;
      // one still in flight would also hide the first request from its session's table (its
      // cancellation, and its end with the session).
      return exchange.respond(errorResponse(message.id as JsonRpcId, INVALID_REQUEST, `request id ${JSON.stringify(message.id)} is already in flight in this session: give every request its own id`));
    }
    switch (message.method) {
      case 'ping':
        this.deps.telemetry.request('ping', 'success', session.transport, 0, undefined);
        return exchange.respond(resultResponse(message.id as JsonRpcId, {}));
      case 'initialize':
        this.deps.telemetry.request('initialize', 'rejected', session.transport, 0, undefined);
        return exchange.respond(errorResponse(message.id as JsonRpcId, INVALID_REQUEST, 'session already initialized; start a new session without Mcp-Session-Id'));
      case 'logging/setLevel': {
        const level = LOG_LEVELS.indexOf(message.params?.level as (typeof LOG_LEVELS)[number]);
        if (level >= 0) {
          session.logLevel = level;
          message.params!.level = this.shared.lowestLogLevel();
        }
        break;
      }
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const uri = message.params?.uri;
        if (typeof uri !== 'string') break;
        if (message.method === 'resources/subscribe') this.shared.subscribe(session, uri);
        else if (this.shared.unsubscribe(session, uri)) {
          this.deps.telemetry.request('resources/unsubscribe', 'success', session.transport, 0, undefined);
          return exchange.respond(resultResponse(message.id as JsonRpcId, {}));
        }
        break;
      }
    }
    this.forward(session, message, exchange, headers);
  }

  private forward(session: Session, message: JsonRpcMessage, exchange: Exchange, headers: IncomingHttpHeaders | undefined): void {
    const method = message.method!;
    const params = message.params;
    const meta = params?._meta;
    const progressToken = meta !== undefined && isValidId(meta.progressToken) ? meta.progressToken : undefined;
    const telemetry = this.deps.telemetry;
    let tool: string | undefined;
    let target: string | undefined;
    if (method === 'tools/call') tool = telemetry.toolLabel(params?.name);
    if ((method === 'tools/call' || method === 'prompts/get') && typeof params?.name === 'string') target = params.name.slice(0, 200);
    const span = telemetry.tracing
      ? telemetry.startSpan({ method, target, sessionId: session.id, requestId: message.id as JsonRpcId, transport: session.transport, headers, meta } satisfies SpanStart)
      : undefined;
    const pending = this.pending.add(
      { clientId: message.id as JsonRpcId, session, method, tool, exchange, progressToken, startedAt: performance.now(), span, internal: undefined },
      this.deps.clock.now(),
    );
    message.id = pending.backendId;
    if (progressToken !== undefined) meta!.progressToken = progressTokenFor(pending.backendId);
    if (span) {
      const forwarded = (message.params ??= {});
      span.inject((forwarded._meta ??= {}));
    }
    let line: string;
    try {
      line = JSON.stringify(message);
    } catch {
      // JSON.parse takes nesting that JSON.stringify cannot write back (a RangeError past V8's stack).
      return this.fail(pending, INVALID_REQUEST, 'request cannot be forwarded: it is nested too deeply to serialize', 'error');
    }
    const tooLong = overLineLimit(line);
    if (tooLong) return this.fail(pending, INVALID_REQUEST, `request cannot be forwarded: ${tooLong}`, 'error');
    if (!this.deps.backend.send(line)) {
      this.fail(pending, BACKEND_UNAVAILABLE, `backend unavailable: ${this.lifecycle.reason || 'not connected'}`, 'error');
    }
  }

  private clientNotification(session: Session, message: JsonRpcMessage): void {
    switch (message.method) {
      case 'notifications/initialized':
        return;
      case 'notifications/cancelled': {
        const pending = session.pending.get(message.params?.requestId as JsonRpcId);
        if (!pending) return;
        const reason = typeof message.params?.reason === 'string' ? message.params.reason : 'cancelled by client';
        this.cancelInBackend(pending.backendId, reason);
        if (!this.pending.remove(pending)) return;
        this.abandon(pending);
        this.report(pending, 'error');
        pending.span?.end('error', REQUEST_CANCELLED);
        return pending.exchange?.cancelled();
      }
      case 'notifications/roots/list_changed':
        // Evidence for the roots/list it prompts from when the server gets it.
        return this.toServer(JSON.stringify(message), () => { this.rootsHint = { session, at: this.deps.clock.now() }; });
    }
    this.toServer(JSON.stringify(message));
  }

  /**
   * A client's message that is not a request, to the server now if it is ready, else held for it
   * in case a re-attach finds the same process.
   */
  private toServer(text: string, sent?: () => void): void {
    const tooLong = overLineLimit(text);
    if (tooLong) {
      this.deps.logger.warn('client message not forwarded to the server', { reason: tooLong, message: text.slice(0, 200) });
      return;
    }
    if (this.lifecycle.ready && this.deps.backend.send(text)) sent?.();
    else this.held.hold(text, sent);
  }

  /** The request ended without the server's answer, and the server was told to cancel it. */
  private abandon(pending: Pending): void {
    if (!pending.session) return;
    this.serverRequests.abandon(pending.session);
    const now = this.deps.clock.now();
    this.forgetOldCancels(now);
    if (this.recentCancels.length >= MAX_RECENT_CANCELS) this.recentCancels.shift();
    this.recentCancels.push({ backendId: pending.backendId, session: pending.session, at: now });
  }

  /** Drops cancellations too old to be sent again (so their sessions are not held either). */
  private forgetOldCancels(now: number): void {
    const recent = this.recentCancels;
    let stale = 0;
    while (stale < recent.length && recent[stale]!.at < now - RESEND_CANCELS_WITHIN_MS) stale += 1;
    if (stale > 0) recent.splice(0, stale);
  }

  private cancelInBackend(backendId: number, reason: string): void {
    this.deps.backend.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: backendId, reason } }));
  }

  private internalRequest(method: string, params: Record<string, unknown>, callback: (message: JsonRpcMessage) => void): void {
    const pending = this.pending.add(
      { clientId: 0, session: undefined, method, tool: undefined, exchange: undefined, progressToken: undefined, startedAt: performance.now(), span: undefined, internal: callback },
      this.deps.clock.now(),
    );
    this.internalInFlight += 1;
    if (!this.deps.backend.send(JSON.stringify({ jsonrpc: '2.0', id: pending.backendId, method, params }))) {
      this.fail(pending, BACKEND_UNAVAILABLE, 'backend unavailable', 'error');
    }
  }

  // ---- ending requests -------------------------------------------------------------------------

  /** Ends a request with `message` (its id is replaced by the client's). No-op if it already ended. */
  private finish(pending: Pending, message: JsonRpcMessage, status: RequestStatus): void {
    if (this.pending.remove(pending)) this.complete(pending, message, status);
  }

  /** Delivers the outcome of a request already taken out of the table. */
  private complete(pending: Pending, message: JsonRpcMessage, status: RequestStatus): void {
    if (pending.internal) {
      this.internalInFlight -= 1;
      return pending.internal(message);
    }
    this.report(pending, status);
    pending.span?.end(status, message.error?.code);
    message.id = pending.clientId;
    pending.exchange?.respond(JSON.stringify(message));
  }

  private report(pending: Pending, status: RequestStatus): void {
    const seconds = (performance.now() - pending.startedAt) / 1000;
    this.deps.telemetry.request(methodLabel(pending.method), status, pending.session!.transport, seconds, pending.tool);
    if (this.debug) {
      this.deps.logger.debug('request done', { session: pending.session!.id, requestId: pending.clientId, backendId: pending.backendId, method: pending.method, status, ms: Math.round(seconds * 1000) });
    }
  }

  private fail(pending: Pending, code: number, text: string, status: RequestStatus): void {
    this.finish(pending, { jsonrpc: '2.0', error: { code, message: text } }, status);
  }

  // ---- backend → clients -----------------------------------------------------------------------

  private onBackendLine(line: string): void {
    if (this.answerVerbatim(line)) return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.deps.logger.warn('backend wrote a line that is not JSON', { line: line.slice(0, 200) });
      return;
    }
    if (Array.isArray(message)) for (const item of message) this.onBackendMessage(item);
    else this.onBackendMessage(message);
  }

  /**
   * Fast path for the common line: a response whose last member is the backend id, as MCP SDK servers
   * write them (`{"result":...,"jsonrpc":"2.0","id":42}`). The client's reply is the same text with the
   * id swapped: no parse, no re-serialization, whatever the size of the result. A trailing `"id":N}`
   * can only be a member of the top-level object (a nested one would end in `}}`, a string in `"}`).
   * Anything else (other shapes, tools/list, the proxy's own requests, traced requests) takes the
   * general path.
   */
  private answerVerbatim(line: string): boolean {
    const isResult = line.startsWith('{"result":');
    if (!isResult && !line.startsWith('{"error":')) return false;
    const trailing = trailingId(line);
    if (trailing === undefined) return false;
    const [backendId, at] = trailing;
    const pending = this.pending.get(backendId);
    if (!pending || pending.internal || pending.span || pending.method === 'tools/list') return false;
    if (this.pending.remove(pending)) {
      this.report(pending, isResult ? 'success' : 'error');
      pending.exchange?.respond(`${line.slice(0, at)},"id":${JSON.stringify(pending.clientId)}}`);
    }
    return true;
  }

  private onBackendMessage(value: unknown): void {
    const kind = classify(value);
    if (kind !== 'request' && kind !== 'notification' && kind !== 'response') {
      this.deps.logger.warn('backend wrote a message that is not valid JSON-RPC: dropped', { problem: kind, message: JSON.stringify(value).slice(0, 200) });
      return;
    }
    const message = value as JsonRpcMessage;
    if (message.method === undefined) {
      const pending = this.pending.get(message.id);
      if (!pending) {
        this.deps.logger.debug('backend answered an unknown or finished request', { id: message.id });
        return;
      }
      if (pending.method === 'tools/list' && message.result) this.learnTools(message.result);
      return this.finish(pending, message, message.error ? 'error' : 'success');
    }
    if (message.id !== undefined && message.id !== null) {
      if (message.method === 'ping') {
        this.deps.backend.send(resultResponse(message.id, {}));
        return;
      }
      return this.serverRequests.route(message);
    }
    routeServerNotification(message, this.notificationRoutes);
  }

  private learnTools(result: unknown): void {
    this.deps.telemetry.announceTools(toolNamesOf(result));
  }

  private refreshTools(cursor?: string, page = 0): void {
    if (page >= TOOLS_LIST_MAX_PAGES) return;
    this.internalRequest('tools/list', cursor ? { cursor } : {}, (message) => {
      if (!message.result) return;
      this.learnTools(message.result);
      const next = (message.result as { nextCursor?: unknown }).nextCursor;
      if (typeof next === 'string') this.refreshTools(next, page + 1);
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  private onBackendReady(newProcess: boolean): void {
    const dropped = [...this.unsubscribeWhenReady];
    this.unsubscribeWhenReady.clear();
    const cutOff = this.cutOff;
    this.cutOff = [];
    if (!newProcess) {
      // The same process: it may still be working on the requests the lost connection cut off, and
      // still holds subscriptions whose last session ended while it was detached.
      for (const { backendId, session } of cutOff) {
        this.cancelInBackend(backendId, 'the proxy lost its connection to the server while the request was in flight');
        this.serverRequests.cancellationsDelivered(session);
      }
      this.held.flush((text) => this.deps.backend.send(text));
      for (const uri of dropped) if (!this.shared.subscribersOf(uri)) this.internalRequest('resources/unsubscribe', { uri }, () => {});
      return;
    }
    this.deps.backend.handshakeDone?.();
    this.held.discard();
    this.serverRequests.processReplaced();
    this.rootsHint = undefined;
    this.refreshTools();
    // A new process has none of the per-session state clients set on the old one: restore it.
    const level = this.shared.lowestLogLevel();
    if (level) this.internalRequest('logging/setLevel', { level }, () => {});
    for (const uri of this.shared.subscribedUris()) this.internalRequest('resources/subscribe', { uri }, () => {});
  }

  private onBackendDown(reason: string): void {
    const text = `backend unavailable: ${reason}`;
    const failed = this.pending.takeAll();
    if (failed.length > 0) this.deps.logger.warn('backend lost: failing requests in flight', { reason, requests: failed.length });
    // The process may live on (a dropped attach) and go on with the requests in flight, and with
    // those whose cancellation of late may have gone into a connection already dead: none can be
    // cancelled now, so they count as running until a re-attach delivers their cancellations or
    // finds a new process, however long that takes.
    this.forgetOldCancels(this.deps.clock.now());
    for (const { backendId, session } of [...this.recentCancels, ...failed]) {
      if (!session) continue;
      this.cutOff.push({ backendId, session });
      this.serverRequests.abandon(session, Infinity);
    }
    this.recentCancels = [];
    for (const pending of failed) this.endRemoved(pending, BACKEND_UNAVAILABLE, text, 'error');
  }

  private endRemoved(pending: Pending, code: number, text: string, status: RequestStatus): void {
    this.complete(pending, { jsonrpc: '2.0', error: { code, message: text } }, status);
  }

  private onSessionEnded(session: Session, reason: string): void {
    this.deps.logger.debug('session ended', { session: session.id, reason });
    for (const pending of session.pending.values()) {
      this.cancelInBackend(pending.backendId, `client session ended (${reason})`);
      this.abandon(pending);
      this.fail(pending, REQUEST_CANCELLED, `session ended: ${reason}`, 'error');
    }
    this.serverRequests.sessionEnded(session);
    if (session.subscriptions) {
      for (const uri of session.subscriptions) {
        if (this.shared.unsubscribe(session, uri)) continue;
        if (this.lifecycle.ready) this.internalRequest('resources/unsubscribe', { uri }, () => {});
        else this.unsubscribeWhenReady.add(uri);
      }
    }
    if (this.rootsHint?.session === session) this.rootsHint = undefined;
  }

  /** Timeouts of requests, server requests, readiness waiters and idle sessions. */
  sweep(now: number, sessionsToo: boolean): void {
    for (const pending of this.pending.takeExpired(now)) {
      this.deps.logger.warn('request timed out', { session: pending.session?.id, requestId: pending.clientId, backendId: pending.backendId, method: pending.method });
      if (!pending.internal) this.cancelInBackend(pending.backendId, 'request timed out in the proxy');
      this.abandon(pending);
      this.endRemoved(pending, REQUEST_TIMEOUT, `request timed out after ${this.deps.config.limits.requestTimeoutMs} ms`, 'timeout');
    }
    this.serverRequests.sweep(now);
    this.forgetOldCancels(now);
    this.lifecycle.sweep(now);
    if (sessionsToo) this.sessions.sweep(now);
  }

  /** Stops for good: every request in flight gets an error naming `reason`, every session ends. */
  stop(reason: string): void {
    this.lifecycle.stop(reason);
    for (const pending of this.pending.takeAll()) this.endRemoved(pending, BACKEND_UNAVAILABLE, reason, 'error');
    for (const session of this.sessions.values()) this.sessions.end(session, reason);
  }
}
