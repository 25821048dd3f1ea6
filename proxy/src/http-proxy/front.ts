/**
 * The `http` backend: a reverse proxy in front of an MCP server that already speaks HTTP.
 *
 * - `streamable-http`: every `/mcp` request (POST, GET, DELETE) goes to the upstream URL; responses,
 *   SSE included, stream through unchanged as they arrive.
 * - `sse`: `GET /sse` opens the upstream stream; its `endpoint` event is rewritten to the proxy's own
 *   `/messages?sessionId=...`, and each `POST /messages` goes to the upstream endpoint it stands for.
 *
 * The same limits (body size, request timeout, Host/Origin guard), metrics and spans apply as for
 * stream backends; the proxy watches responses go by to learn each request's outcome.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Clock } from '../backends/types.ts';
import type { HttpBackendConfig } from '../config.ts';
import type { ResolvedProxyConfig } from '../config-validate.ts';
import { BACKEND_UNAVAILABLE, INVALID_REQUEST, PROXY_OVERLOADED, REQUEST_TIMEOUT } from '../jsonrpc.ts';
import type { Logger } from '../log.ts';
import type { Telemetry, TransportLabel } from '../telemetry/telemetry.ts';
import { answerCors, BodyTooLarge, createRequestGuard, ownAddresses, readBody, sendError, sendText } from '../front/http-util.ts';
import { RequestObserver } from './observer.ts';
import { SseParser } from './sse-parser.ts';

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

export interface HttpProxyDeps {
  readonly config: ResolvedProxyConfig;
  readonly upstream: HttpBackendConfig;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly clock: Clock;
}

export interface HttpProxyFront {
  readonly server: Server;
  readonly draining: boolean;
  drain(graceMs: number): Promise<void>;
}

interface LegacySession {
  readonly endpoint: URL;
  readonly observer: RequestObserver;
}

export function createHttpProxyFront(deps: HttpProxyDeps): HttpProxyFront {
  const { config, upstream, logger, telemetry } = deps;
  const target = new URL(upstream.url);
  const secure = target.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const guard = createRequestGuard(config.security.allowedHosts, config.security.allowedOrigins, ownAddresses());
  const connections: Record<TransportLabel, number> = { 'streamable-http': 0, sse: 0 };
  const legacy = new Map<string, LegacySession>();
  let inFlight = 0;
  let draining = false;
  /** Why the upstream is considered unreachable (a connection-level failure), until it answers again. */
  let upstreamError: string | undefined = 'not probed yet';

  /** Readiness: the upstream answered last time, or accepts a TCP connection now. */
  const probeUpstream = (): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || (secure ? 443 : 80)), timeout: 1_000 });
      const done = (ok: boolean, reason?: string): void => {
        socket.destroy();
        if (ok) upstreamError = undefined;
        else upstreamError = reason ?? upstreamError;
        resolve(ok);
      };
      socket.once('connect', () => done(true));
      socket.once('timeout', () => done(false, `connecting to ${target.host} timed out`));
      socket.once('error', (error) => done(false, error.message));
    });
  telemetry.bindGauges({
    connections: (transport) => connections[transport],
    sessions: (transport) => (transport === 'sse' ? legacy.size : 0),
    inFlight: () => inFlight,
    backendUp: () => !draining && upstreamError === undefined,
  });

  const headersFor = (req: IncomingMessage, url: URL, length?: number): OutgoingHttpHeaders => {
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    headers.host = url.host;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    if (length !== undefined) headers['content-length'] = length;
    return headers;
  };

  /** Sends one request upstream; calls back with the response or fails the client's exchange. */
  const forward = (
    req: IncomingMessage, res: ServerResponse, url: URL, body: string | undefined, headers: OutgoingHttpHeaders,
    observer: RequestObserver | undefined, onResponse: (upstreamRes: IncomingMessage) => void, timeoutMs: number,
    longLived = false,
  ): void => {
    const send = secure ? httpsRequest : httpRequest;
    const upstreamReq = send(url, { method: req.method, headers, agent });
    const transport: TransportLabel = upstream.transport;
    const counted = longLived ? 0 : 1;
    inFlight += counted;
    connections[transport] += 1;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      inFlight -= counted;
      connections[transport] -= 1;
    };
    if (timeoutMs > 0) {
      upstreamReq.setTimeout(timeoutMs, () => {
        observer?.endAll('timeout', REQUEST_TIMEOUT);
        sendError(res, 504, REQUEST_TIMEOUT, `upstream did not answer within ${timeoutMs} ms`);
        upstreamReq.destroy();
      });
    }
    upstreamReq.on('error', (error: NodeJS.ErrnoException) => {
      settle();
      if (error.code && CONNECTION_ERRORS.has(error.code)) upstreamError = error.message;
      if (res.writableEnded) return;
      logger.warn('upstream request failed', { error, url: url.href });
      observer?.endAll('error', BACKEND_UNAVAILABLE);
      sendError(res, 502, BACKEND_UNAVAILABLE, `backend unavailable: ${error.message}`);
    });
    upstreamReq.on('response', (upstreamRes) => {
      upstreamError = undefined;
      upstreamRes.once('close', settle);
      onResponse(upstreamRes);
    });
    res.once('close', () => {
      if (!upstreamReq.destroyed && !res.writableFinished) upstreamReq.destroy();
      settle();
    });
    upstreamReq.end(body);
  };

  /** Streams an upstream response to the client, letting `observer` see the JSON-RPC messages. */
  const pipeObserved = (upstreamRes: IncomingMessage, res: ServerResponse, observer: RequestObserver | undefined, extraHeaders: OutgoingHttpHeaders = {}): void => {
    const headers: OutgoingHttpHeaders = { ...extraHeaders };
    for (const [name, value] of Object.entries(upstreamRes.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    res.writeHead(upstreamRes.statusCode ?? 502, headers);
    const type = String(upstreamRes.headers['content-type'] ?? '');
    const status = upstreamRes.statusCode ?? 502;
    if (status >= 400) observer?.endAll(status === 503 || status === 429 ? 'rejected' : 'error');
    const watch = observer && observer.size > 0;
    const parser = watch && type.startsWith('text/event-stream') ? new SseParser((event) => observer.seeText(event.data)) : undefined;
    const jsonChunks: Buffer[] | undefined = watch && type.startsWith('application/json') ? [] : undefined;
    upstreamRes.on('data', (chunk: Buffer) => {
      res.write(chunk);
      parser?.push(chunk.toString('utf8'));
      jsonChunks?.push(chunk);
    });
    upstreamRes.once('end', () => {
      res.end();
      if (jsonChunks) observer!.seeText(Buffer.concat(jsonChunks).toString('utf8'));
      observer?.endAll('error');
    });
    upstreamRes.once('error', () => {
      observer?.endAll('error', BACKEND_UNAVAILABLE);
      res.destroy();
    });
  };

  const readJsonBody = async (req: IncomingMessage, res: ServerResponse): Promise<{ text: string; parsed: unknown } | undefined> => {
    try {
      const text = await readBody(req, config.limits.maxBodyBytes);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined; // The server answers malformed bodies itself.
      }
      return { text, parsed };
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        sendError(res, 413, INVALID_REQUEST, `Payload Too Large: the limit is ${config.limits.maxBodyBytes} bytes`, null, { connection: 'close' });
        return undefined;
      }
      throw error;
    }
  };

  const streamable = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const sessionId = typeof req.headers['mcp-session-id'] === 'string' ? req.headers['mcp-session-id'] : undefined;
    if (req.method === 'POST') {
      const body = await readJsonBody(req, res);
      if (!body) return;
      const observer = new RequestObserver(telemetry, 'streamable-http');
      const headers = headersFor(req, target, Buffer.byteLength(body.text));
      observer.begin(body.parsed, req.headers, headers, sessionId);
      return forward(req, res, target, body.text, headers, observer, (upstreamRes) => pipeObserved(upstreamRes, res, observer), observer.size > 0 ? config.limits.requestTimeoutMs : 0);
    }
    forward(req, res, target, undefined, headersFor(req, target), undefined, (upstreamRes) => pipeObserved(upstreamRes, res, undefined), 0, req.method === 'GET');
  };

  const openLegacy = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET') return sendError(res, 405, INVALID_REQUEST, 'Method Not Allowed: use GET', null, { allow: 'GET' });
    const id = randomUUID();
    forward(req, res, target, undefined, headersFor(req, target), undefined, (upstreamRes) => {
      const status = upstreamRes.statusCode ?? 502;
      if (status !== 200) return pipeObserved(upstreamRes, res, undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive' });
      res.flushHeaders();
      let session: LegacySession | undefined;
      const parser = new SseParser((event) => {
        if (event.event === 'endpoint' && !session) {
          session = { endpoint: new URL(event.data, target), observer: new RequestObserver(telemetry, 'sse') };
          legacy.set(id, session);
          res.write(`event: endpoint\ndata: /messages?sessionId=${id}\n\n`);
          return;
        }
        if (event.event === 'message') session?.observer.seeText(event.data);
        res.write(event.raw);
      });
      upstreamRes.setEncoding('utf8');
      upstreamRes.on('data', (chunk: string) => parser.push(chunk));
      const end = (): void => {
        legacy.delete(id);
        session?.observer.endAll('error', BACKEND_UNAVAILABLE);
        res.end();
      };
      upstreamRes.once('end', end);
      upstreamRes.once('error', end);
      res.once('close', () => {
        legacy.delete(id);
        upstreamRes.destroy();
      });
    }, 0, true);
  };

  const postLegacy = async (req: IncomingMessage, res: ServerResponse, query: string): Promise<void> => {
    if (req.method !== 'POST') return sendError(res, 405, INVALID_REQUEST, 'Method Not Allowed: use POST', null, { allow: 'POST' });
    const id = new URLSearchParams(query).get('sessionId');
    const session = id ? legacy.get(id) : undefined;
    if (!session) return sendError(res, id ? 404 : 400, id ? -32001 : INVALID_REQUEST, id ? 'Session not found' : 'Bad Request: the sessionId query parameter is required');
    const body = await readJsonBody(req, res);
    if (!body) return;
    const headers = headersFor(req, session.endpoint, Buffer.byteLength(body.text));
    session.observer.begin(body.parsed, req.headers, headers, id!);
    forward(req, res, session.endpoint, body.text, headers, undefined, (upstreamRes) => pipeObserved(upstreamRes, res, undefined), config.limits.requestTimeoutMs);
  };

  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 120_000 }, (req, res) => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (path === '/healthz') return sendText(res, 200, 'ok\n');
    if (path === '/readyz') {
      if (draining) return sendText(res, 503, 'not ready: shutting down\n');
      if (upstreamError === undefined) return sendText(res, 200, 'ready\n');
      void probeUpstream().then((ok) => (ok ? sendText(res, 200, 'ready\n') : sendText(res, 503, `not ready: upstream unreachable: ${upstreamError}\n`)));
      return;
    }
    const served = upstream.transport === 'streamable-http' ? path === '/mcp' : path === '/sse' || path === '/messages';
    if (!served) return sendError(res, 404, INVALID_REQUEST, `Not Found: ${path}; this proxy serves ${upstream.transport === 'streamable-http' ? '/mcp' : '/sse and /messages'}`);
    const refused = guard(req);
    if (refused) return sendError(res, 403, INVALID_REQUEST, `Forbidden: ${refused}`);
    if (answerCors(req, res)) return;
    if (draining) return sendError(res, 503, PROXY_OVERLOADED, 'proxy is shutting down', null, { 'retry-after': '1', connection: 'close' });
    if (inFlight >= config.limits.maxInFlight) return sendError(res, 503, PROXY_OVERLOADED, 'too many requests in flight; retry later', null, { 'retry-after': '1' });
    const handled = path === '/mcp' ? streamable(req, res) : path === '/sse' ? openLegacy(req, res) : postLegacy(req, res, queryAt === -1 ? '' : url.slice(queryAt + 1));
    handled?.catch((error: unknown) => {
      logger.error('request failed', { error, url });
      sendError(res, 500, -32603, 'Internal error');
    });
  });

  return {
    server,
    get draining() {
      return draining;
    },
    async drain(graceMs) {
      draining = true;
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      server.closeAllConnections();
      agent.destroy();
    },
  };
}
