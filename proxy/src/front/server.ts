/**
 * The client-facing HTTP listener: routes `/mcp` (Streamable HTTP), `/sse` + `/messages` (legacy
 * SSE), `/healthz` (process alive) and `/readyz` (backend ready and taking its stdin, not draining). MCP routes pass the
 * Host/Origin guard first; the probes do not (kubelet probes use the pod IP as Host).
 *
 * Raw `node:http`: the proxy's per-request work is a few map operations, and a framework's routing
 * and middleware would cost more than that.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { INTERNAL_ERROR, INVALID_REQUEST } from '../jsonrpc.ts';
import { answerCors, createRequestGuard, ownAddresses, sendError, sendText } from './http-util.ts';
import { handleSseMessage, handleSseOpen } from './legacy-sse.ts';
import type { FrontContext } from './messages.ts';
import { handleStreamable } from './streamable.ts';

/** Keep-alive of idle client connections (longer than typical load balancers' 60 s). */
const KEEP_ALIVE_MS = 65_000;
/** A request (headers and body) must arrive within this time: a client trickling a body cannot hold a socket forever. */
const REQUEST_RECEIVE_TIMEOUT_MS = 120_000;

export interface Front {
  readonly server: Server;
  /** Comment lines on idle SSE streams so intermediaries do not time them out. */
  keepAliveStreams(): void;
}

export function createFront(ctx: FrontContext): Front {
  const guard = createRequestGuard(ctx.config.security.allowedHosts, ctx.config.security.allowedOrigins, ownAddresses());

  const route = (req: IncomingMessage, res: ServerResponse): void | Promise<void> => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (path === '/healthz') return sendText(res, 200, 'ok\n');
    if (path === '/readyz') {
      if (ctx.draining) return sendText(res, 503, 'not ready: shutting down\n');
      if (!ctx.mux.lifecycle.ready) return sendText(res, 503, `not ready: ${ctx.mux.lifecycle.reason}\n`);
      const stuck = ctx.mux.stdinCongestion();
      if (stuck) return sendText(res, 503, `not ready: ${stuck}\n`);
      return sendText(res, 200, 'ready\n');
    }
    if (path !== '/mcp' && path !== '/sse' && path !== '/messages') {
      return sendError(res, 404, INVALID_REQUEST, `Not Found: ${path}; MCP is served at /mcp (Streamable HTTP) and /sse (legacy SSE)`);
    }
    const refused = guard(req);
    if (refused) return sendError(res, 403, INVALID_REQUEST, `Forbidden: ${refused}`);
    if (answerCors(req, res)) return;
    if (path === '/mcp') return handleStreamable(ctx, req, res);
    if (path === '/sse') return handleSseOpen(ctx, req, res);
    return handleSseMessage(ctx, req, res, queryAt === -1 ? '' : url.slice(queryAt + 1));
  };

  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS, requestTimeout: REQUEST_RECEIVE_TIMEOUT_MS }, (req, res) => {
    try {
      const done = route(req, res);
      if (done) {
        done.catch((error: unknown) => {
          ctx.logger.error('request failed', { error, url: req.url, method: req.method });
          sendError(res, 500, INTERNAL_ERROR, 'Internal error');
        });
      }
    } catch (error) {
      ctx.logger.error('request failed', { error, url: req.url, method: req.method });
      sendError(res, 500, INTERNAL_ERROR, 'Internal error');
    }
  });
  server.headersTimeout = 30_000;

  return {
    server,
    keepAliveStreams: () => {
      for (const stream of ctx.streams) stream.keepAlive();
    },
  };
}
