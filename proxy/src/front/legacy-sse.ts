/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05): `GET /sse` opens the session's stream and sends
 * the `endpoint` event; the client POSTs each message to `/messages?sessionId=<id>`, which answers
 * 202 at once; every response and server message travels on the stream. Closing the stream ends the
 * session (and cancels its requests in flight).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INVALID_REQUEST, PROXY_OVERLOADED, errorResponse, type JsonRpcId } from '../jsonrpc.ts';
import { allowsBatches } from '../protocol.ts';
import { SseStream, StreamExchange } from './exchanges.ts';
import { isJsonContentType, sendError } from './http-util.ts';
import { admit, forServer, readMessages, refusedForStdin, type FrontContext } from './messages.ts';

const TRANSPORT = 'sse';

export function handleSseOpen(ctx: FrontContext, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET') return sendError(res, 405, INVALID_REQUEST, 'Method Not Allowed: use GET', null, { allow: 'GET' });
  if (ctx.draining) return sendError(res, 503, PROXY_OVERLOADED, 'proxy is shutting down', null, { 'retry-after': '1', connection: 'close' });
  const session = ctx.mux.sessions.create(TRANSPORT, ctx.clock.now());
  if (!session) {
    return sendError(res, 503, PROXY_OVERLOADED, `too many sessions (limits.maxSessions ${ctx.config.limits.maxSessions}); retry later`, null, { 'retry-after': '5' });
  }
  ctx.connections[TRANSPORT] += 1;
  const stream: SseStream = new SseStream(res, () => {
    ctx.connections[TRANSPORT] -= 1;
    ctx.streams.delete(stream);
    ctx.mux.sessions.end(session, 'SSE stream closed');
  });
  ctx.streams.add(stream);
  stream.event('endpoint', `/messages?sessionId=${session.id}`);
  session.attachStream(stream);
}

export async function handleSseMessage(ctx: FrontContext, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  if (req.method !== 'POST') return sendError(res, 405, INVALID_REQUEST, 'Method Not Allowed: use POST', null, { allow: 'POST' });
  const sessionId = new URLSearchParams(query).get('sessionId');
  if (!sessionId) return sendError(res, 400, INVALID_REQUEST, 'Bad Request: the sessionId query parameter is required');
  const session = ctx.mux.sessions.get(sessionId);
  if (!session || session.transport !== TRANSPORT) return sendError(res, 404, -32001, 'Session not found: unknown or closed sessionId; open a new /sse stream');
  if (!isJsonContentType(req)) return sendError(res, 415, INVALID_REQUEST, 'Unsupported Media Type: Content-Type must be application/json');
  const parsed = await readMessages(ctx, req, res);
  if (!parsed) return;
  const { messages, kinds, batch, requests } = parsed;
  if (batch && (session.initialized ? !allowsBatches(session.protocolVersion) : true)) {
    return sendError(res, 400, INVALID_REQUEST, `Invalid Request: JSON-RPC batches are not supported in protocol version ${session.protocolVersion || '(not initialized)'}`);
  }
  session.lastActive = ctx.clock.now();
  if (requests > 0) {
    if (ctx.draining) return sendError(res, 503, PROXY_OVERLOADED, 'proxy is shutting down', null, { 'retry-after': '1' });
    const firstMethod = messages[kinds.indexOf('request')].method!;
    if (!(await admit(ctx, res, requests, TRANSPORT, firstMethod, forServer(messages, kinds)))) return;
    if (session.closed) return sendError(res, 404, -32001, 'Session not found: the stream closed while waiting for the backend');
  } else if (refusedForStdin(ctx, res, 0)) {
    return;
  }
  res.writeHead(202, { 'content-type': 'text/plain', 'content-length': 8 });
  res.end('Accepted');
  const exchange = new StreamExchange(session);
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (kinds[i] === 'request' && message.method === 'initialize') {
      if (session.initialized) exchange.respond(errorResponse(message.id as JsonRpcId, INVALID_REQUEST, 'session already initialized'));
      else exchange.respond(ctx.mux.initialize(session, message));
      continue;
    }
    if (kinds[i] === 'request' && !session.initialized && message.method !== 'ping') {
      exchange.respond(errorResponse(message.id as JsonRpcId, INVALID_REQUEST, `Invalid Request: ${message.method} before initialize`));
      continue;
    }
    ctx.mux.fromClient(session, message, kinds[i], exchange, req.headers);
  }
}
