/**
 * MCP Streamable HTTP at `/mcp` (protocol versions 2024-11-05 through 2025-11-25).
 *
 * POST: 406 unless the client accepts JSON or SSE; 415 unless the body is JSON; 413 beyond
 * `maxBodyBytes`; 400 for bad JSON, non-JSON-RPC, batches the negotiated version forbids, a missing
 * `Mcp-Session-Id` or an unsupported `MCP-Protocol-Version`; 404 for an unknown or expired session;
 * 202 when the body holds no request. A request is answered with JSON unless the exchange needs a
 * stream: the client asked for progress (and accepts SSE) or accepts only SSE.
 * GET: the session's server-to-client SSE stream (one per session, 409 for a second). Its events
 * carry ids; `Last-Event-ID` resumes it (the kept events after that id are sent again, and a stream
 * the proxy still holds open is replaced); an id the stream never sent is ignored.
 * DELETE: ends the session. Anything else: 405.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INVALID_REQUEST, PROXY_OVERLOADED, type JsonRpcMessage } from '../jsonrpc.ts';
import type { Session } from '../mux/session.ts';
import { allowsBatches, isSupportedVersion, SUPPORTED_PROTOCOL_VERSIONS } from '../protocol.ts';
import { JsonExchange, SseExchange, SseStream } from './exchanges.ts';
import { acceptedTypes, isJsonContentType, sendError, sendJson } from './http-util.ts';
import { admit, forServer, readMessages, refusedForStdin, type FrontContext } from './messages.ts';

const TRANSPORT = 'streamable-http';
const SESSION_HEADER = 'mcp-session-id';

function sessionOf(ctx: FrontContext, req: IncomingMessage, res: ServerResponse): Session | undefined {
  const id = req.headers[SESSION_HEADER];
  if (typeof id !== 'string' || id.length === 0) {
    sendError(res, 400, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required (send initialize first to get one)');
    return undefined;
  }
  const session = ctx.mux.sessions.get(id);
  if (!session || session.transport !== TRANSPORT) {
    sendError(res, 404, -32001, 'Session not found: unknown or expired Mcp-Session-Id; initialize a new session');
    return undefined;
  }
  return session;
}

function versionHeaderProblem(req: IncomingMessage): string | undefined {
  const version = req.headers['mcp-protocol-version'];
  if (version === undefined || (typeof version === 'string' && isSupportedVersion(version))) return undefined;
  return `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(version)}; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`;
}

export async function handleStreamable(ctx: FrontContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  switch (req.method) {
    case 'POST':
      return handlePost(ctx, req, res);
    case 'GET':
      return handleGet(ctx, req, res);
    case 'DELETE': {
      const problem = versionHeaderProblem(req);
      if (problem) return sendError(res, 400, INVALID_REQUEST, problem);
      const session = sessionOf(ctx, req, res);
      if (!session) return;
      ctx.mux.sessions.end(session, 'deleted by client');
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      return;
    }
    default:
      sendError(res, 405, INVALID_REQUEST, 'Method Not Allowed: use POST, GET or DELETE', null, { allow: 'GET, POST, DELETE' });
  }
}

async function handlePost(ctx: FrontContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const accepts = acceptedTypes(req);
  if (!accepts.json && !accepts.sse) {
    return sendError(res, 406, INVALID_REQUEST, 'Not Acceptable: Accept must list application/json and text/event-stream');
  }
  if (!isJsonContentType(req)) return sendError(res, 415, INVALID_REQUEST, 'Unsupported Media Type: Content-Type must be application/json');
  const problem = versionHeaderProblem(req);
  if (problem) return sendError(res, 400, INVALID_REQUEST, problem);
  const parsed = await readMessages(ctx, req, res);
  if (!parsed) return;
  const { messages, kinds, batch, requests } = parsed;

  const initializeAt = messages.findIndex((message, i) => kinds[i] === 'request' && message.method === 'initialize');
  if (initializeAt >= 0) {
    if (batch) return sendError(res, 400, INVALID_REQUEST, 'Invalid Request: initialize must not be part of a batch');
    if (req.headers[SESSION_HEADER] !== undefined) {
      return sendError(res, 400, INVALID_REQUEST, 'Bad Request: initialize starts a new session; send it without Mcp-Session-Id', messages[0].id ?? null);
    }
    return initialize(ctx, res, messages[0], accepts.json);
  }

  const session = sessionOf(ctx, req, res);
  if (!session) return;
  if (batch && !allowsBatches(session.protocolVersion)) {
    return sendError(res, 400, INVALID_REQUEST, `Invalid Request: JSON-RPC batches are not supported in protocol version ${session.protocolVersion}`);
  }
  session.lastActive = ctx.clock.now();

  if (requests === 0) {
    if (refusedForStdin(ctx, res, 0)) return;
    for (let i = 0; i < messages.length; i++) ctx.mux.fromClient(session, messages[i], kinds[i], NO_EXCHANGE);
    res.writeHead(202, { 'content-length': 0 });
    res.end();
    return;
  }
  if (ctx.draining) {
    return sendError(res, 503, PROXY_OVERLOADED, 'proxy is shutting down', null, { 'retry-after': '1', connection: 'close' });
  }
  const firstMethod = messages[kinds.indexOf('request')].method!;
  if (!(await admit(ctx, res, requests, TRANSPORT, firstMethod, forServer(messages, kinds)))) return;
  if (session.closed) return sendError(res, 404, -32001, 'Session not found: the session ended while waiting for the backend');

  ctx.connections[TRANSPORT] += 1;
  const onDone = (): void => {
    ctx.connections[TRANSPORT] -= 1;
  };
  const wantsStream = accepts.sse && (!accepts.json || messages.some((message, i) => kinds[i] === 'request' && message.params?._meta?.progressToken !== undefined));
  const exchange = wantsStream ? new SseExchange(res, requests, onDone) : new JsonExchange(res, requests, batch, onDone, accepts.sse);
  for (let i = 0; i < messages.length; i++) ctx.mux.fromClient(session, messages[i], kinds[i], exchange, req.headers);
}

const NO_EXCHANGE = { respond: () => {}, cancelled: () => {}, relate: () => false };

async function initialize(ctx: FrontContext, res: ServerResponse, message: JsonRpcMessage, acceptsJson: boolean): Promise<void> {
  if (ctx.draining) return sendError(res, 503, PROXY_OVERLOADED, 'proxy is shutting down', null, { 'retry-after': '1', connection: 'close' });
  // initialize is answered from the cached handshake: it needs the backend ready, not in-flight capacity.
  if (!(await admit(ctx, res, 0, TRANSPORT, 'initialize'))) return;
  const session = ctx.mux.sessions.create(TRANSPORT, ctx.clock.now());
  if (!session) {
    ctx.telemetry.request('initialize', 'rejected', TRANSPORT, 0, undefined);
    return sendError(res, 503, PROXY_OVERLOADED, `too many sessions (limits.maxSessions ${ctx.config.limits.maxSessions}); retry later`, message.id ?? null, { 'retry-after': '5' });
  }
  const response = ctx.mux.initialize(session, message);
  if (acceptsJson) return sendJson(res, 200, response, { [SESSION_HEADER]: session.id });
  ctx.connections[TRANSPORT] += 1;
  const exchange = new SseExchange(res, 1, () => (ctx.connections[TRANSPORT] -= 1), { [SESSION_HEADER]: session.id });
  exchange.respond(response);
}

/** Clients of 2025-11-25 and later expect an id-only event first, so they can resume even a quiet stream. */
const FIRST_VERSION_PRIMING_STREAMS = '2025-11-25';

/**
 * A stream that was itself opened by a resuming client this recently is not replaced by another
 * resume: two live readers of one session (a client resuming a stream it still reads, two
 * transports sharing a session id) would otherwise replace each other for ever.
 */
const RESUME_REPLACE_GUARD_MS = 5_000;

/**
 * The event a resuming client saw last (`Last-Event-ID`), or undefined without the header. An id
 * this session's stream never sent is ignored (with a warning) rather than refused: clients such as
 * the MCP SDK would retry with the same id and then give up the stream for good.
 */
function resumePoint(ctx: FrontContext, req: IncomingMessage, session: Session): number | undefined {
  const header = req.headers['last-event-id'];
  if (header === undefined) return undefined;
  const value = typeof header === 'string' ? header.trim() : '';
  if (/^\d{1,15}$/.test(value) && Number(value) <= session.lastSentEventId) return Number(value);
  ctx.logger.warn('GET stream with a Last-Event-ID this session\'s stream never sent: opened without resuming', {
    session: session.id, lastEventId: String(header).slice(0, 64), lastSent: session.lastSentEventId,
  });
  return undefined;
}

function handleGet(ctx: FrontContext, req: IncomingMessage, res: ServerResponse): void {
  if (!acceptedTypes(req).sse) return sendError(res, 406, INVALID_REQUEST, 'Not Acceptable: Accept must list text/event-stream');
  const problem = versionHeaderProblem(req);
  if (problem) return sendError(res, 400, INVALID_REQUEST, problem);
  const session = sessionOf(ctx, req, res);
  if (!session) return;
  const resumeAfter = resumePoint(ctx, req, session);
  const now = ctx.clock.now();
  if (session.stream) {
    if (resumeAfter === undefined) return sendError(res, 409, INVALID_REQUEST, 'Conflict: this session already has an open GET stream');
    if (session.streamResumedAt !== undefined && now - session.streamResumedAt < RESUME_REPLACE_GUARD_MS) {
      return sendError(res, 409, INVALID_REQUEST, 'Conflict: this session\'s GET stream was resumed by another reader moments ago');
    }
    // A client resuming has lost its stream, whatever this side of that connection still believes
    // (a silently dropped connection looks open until a write fails): the new stream replaces it,
    // and the old connection is dropped with what is queued for it (the replay covers that).
    ctx.logger.info('GET stream resumed while the old one looked open: dropping the old one', { session: session.id, lastEventId: resumeAfter });
    const stale = session.stream;
    if (stale.drop) stale.drop();
    else stale.close();
  }
  ctx.connections[TRANSPORT] += 1;
  const stream: SseStream = new SseStream(res, () => {
    ctx.connections[TRANSPORT] -= 1;
    ctx.streams.delete(stream);
    session.detachStream(stream);
    session.lastActive = ctx.clock.now();
  });
  ctx.streams.add(stream);
  session.lastActive = now;
  session.streamResumedAt = resumeAfter === undefined ? undefined : now;
  const resumption = session.attachStream(stream, {
    ...(resumeAfter === undefined ? {} : { resumeAfter }),
    prime: session.protocolVersion >= FIRST_VERSION_PRIMING_STREAMS,
  });
  if (resumption.lost > 0) {
    ctx.logger.warn('GET stream resumed, but some messages it missed are no longer kept: they are lost', {
      session: session.id, lastEventId: resumeAfter, replayed: resumption.replayed, lost: resumption.lost,
    });
  }
}
