/**
 * Parsing and checking a POSTed body, shared by the Streamable HTTP and legacy SSE fronts, and the
 * context both fronts share.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../backends/types.ts';
import type { ResolvedProxyConfig } from '../config-validate.ts';
import { classify, INVALID_REQUEST, PARSE_ERROR, PROXY_OVERLOADED, BACKEND_UNAVAILABLE, readableId, type JsonRpcMessage, type MessageKind } from '../jsonrpc.ts';
import type { Logger } from '../log.ts';
import type { Multiplexer } from '../mux/multiplexer.ts';
import { methodLabel, type TransportLabel, type Telemetry } from '../telemetry/telemetry.ts';
import type { SseStream } from './exchanges.ts';
import { BodyNotUtf8, BodyTooLarge, readBody, sendError } from './http-util.ts';

export interface FrontContext {
  readonly mux: Multiplexer;
  readonly config: ResolvedProxyConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  /** Open client connections by transport (HTTP requests in progress and SSE streams). */
  readonly connections: Record<TransportLabel, number>;
  /** Open long-lived streams (keep-alive comments, shutdown). */
  readonly streams: Set<SseStream>;
  draining: boolean;
}

export interface ParsedBody {
  readonly messages: JsonRpcMessage[];
  readonly kinds: MessageKind[];
  readonly batch: boolean;
  readonly requests: number;
}

/**
 * Reads a POST body and parses it into classified messages, or replies (413 beyond
 * `limits.maxBodyBytes`, 400 for anything that is not JSON-RPC) and returns undefined.
 */
export async function readMessages(ctx: FrontContext, req: IncomingMessage, res: ServerResponse): Promise<ParsedBody | undefined> {
  let body: string;
  try {
    body = await readBody(req, ctx.config.limits.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      sendError(res, 413, INVALID_REQUEST, `Payload Too Large: the limit is ${ctx.config.limits.maxBodyBytes} bytes`, null, { connection: 'close' });
      return undefined;
    }
    if (error instanceof BodyNotUtf8) {
      sendError(res, 400, PARSE_ERROR, 'Parse error: the body is not valid UTF-8');
      return undefined;
    }
    throw error;
  }
  return parseBody(res, body);
}

/** Parses a body into classified messages, or replies with 400 and returns undefined. */
export function parseBody(res: ServerResponse, body: string): ParsedBody | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    sendError(res, 400, PARSE_ERROR, `Parse error: ${(error as Error).message}`);
    return undefined;
  }
  const batch = Array.isArray(value);
  const items: unknown[] = batch ? (value as unknown[]) : [value];
  if (items.length === 0) {
    sendError(res, 400, INVALID_REQUEST, 'Invalid Request: empty batch');
    return undefined;
  }
  const kinds: MessageKind[] = [];
  let requests = 0;
  for (const item of items) {
    const kind = classify(item);
    if (kind !== 'request' && kind !== 'notification' && kind !== 'response') {
      sendError(res, 400, INVALID_REQUEST, `Invalid Request: ${kind}`, readableId(item));
      return undefined;
    }
    if (kind === 'request') requests += 1;
    kinds.push(kind);
  }
  return { messages: items as JsonRpcMessage[], kinds, batch, requests };
}

/** The requests among `messages` that go to the server's stdin: not those the proxy answers itself. */
export function forServer(messages: readonly JsonRpcMessage[], kinds: readonly MessageKind[]): number {
  let count = 0;
  for (let i = 0; i < messages.length; i++) {
    if (kinds[i] === 'request' && messages[i].method !== 'ping' && messages[i].method !== 'initialize') count += 1;
  }
  return count;
}

/**
 * Waits (bounded by `backendWaitMs`) for the backend and checks the in-flight bound and the stdin
 * backlog (`serverBound`: how many of the requests go to the server's stdin); on failure replies 503
 * with Retry-After and returns false.
 */
export async function admit(
  ctx: FrontContext, res: ServerResponse, requests: number, transport: TransportLabel, rawMethod: string, serverBound = requests,
): Promise<boolean> {
  const { mux } = ctx;
  const method = methodLabel(rawMethod);
  if (!mux.hasCapacity(requests)) {
    ctx.telemetry.request(method, 'rejected', transport, 0, undefined);
    overloaded(ctx, res);
    return false;
  }
  if (refusedForStdin(ctx, res, serverBound)) {
    ctx.telemetry.request(method, 'rejected', transport, 0, undefined);
    return false;
  }
  if (mux.lifecycle.ready) return true;
  const ready = await mux.lifecycle.waitReady(ctx.config.limits.backendWaitMs, requests);
  // Those that waited with it may have taken the room meanwhile.
  if (ready && mux.hasCapacity(requests)) return true;
  ctx.telemetry.request(method, 'rejected', transport, 0, undefined);
  if (ready) overloaded(ctx, res);
  else sendError(res, 503, BACKEND_UNAVAILABLE, `backend not ready: ${mux.lifecycle.reason}`, null, { 'retry-after': '5' });
  return false;
}

/**
 * Replies 503 and returns true when a message carrying `requests` requests for the server cannot be
 * taken because the server is not reading its stdin (see `Multiplexer.stdinRefusal`); 0 for
 * notifications, answers and what the proxy answers itself.
 */
export function refusedForStdin(ctx: FrontContext, res: ServerResponse, requests: number): boolean {
  const stuck = ctx.mux.stdinRefusal(requests);
  if (stuck) sendError(res, 503, PROXY_OVERLOADED, `${stuck}; retry later`, null, { 'retry-after': '1' });
  return stuck !== undefined;
}

function overloaded(ctx: FrontContext, res: ServerResponse): void {
  sendError(res, 503, PROXY_OVERLOADED, `too many requests in flight (limits.maxInFlight ${ctx.config.limits.maxInFlight}); retry later`, null, { 'retry-after': '1' });
}
