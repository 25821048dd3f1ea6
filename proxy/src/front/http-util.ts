/**
 * HTTP plumbing shared by the fronts: bounded body reading, content negotiation checks, error replies
 * and the Host/Origin guard against DNS rebinding.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import { networkInterfaces } from 'node:os';
import { errorResponse, type JsonRpcId } from '../jsonrpc.ts';

export class BodyTooLarge extends Error {}

/**
 * A body that is not UTF-8. Decoding would turn each bad byte into U+FFFD (three bytes), so a body
 * within the limit could reach the server as a line three times longer, past what its stdio
 * transport accepts; JSON must be UTF-8 anyway (RFC 8259).
 */
export class BodyNotUtf8 extends Error {}

/** Reads the whole body as UTF-8, refusing more than `limit` bytes (before reading, when Content-Length says so) and invalid UTF-8. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (failed) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (isUtf8(body)) resolve(body.toString('utf8'));
      else reject(new BodyNotUtf8());
    });
    req.once('error', (error) => {
      if (!failed) reject(error);
      failed = true;
    });
  });
}

export interface AcceptedTypes {
  readonly json: boolean;
  readonly sse: boolean;
}

export function acceptedTypes(req: IncomingMessage): AcceptedTypes {
  const accept = req.headers.accept;
  if (accept === undefined) return { json: false, sse: false };
  const text = accept.toLowerCase();
  const any = text.includes('*/*');
  return {
    json: any || text.includes('application/json') || text.includes('application/*'),
    sse: any || text.includes('text/event-stream') || text.includes('text/*'),
  };
}

export function isJsonContentType(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (type === undefined) return false;
  const base = type.split(';', 1)[0].trim().toLowerCase();
  return base === 'application/json';
}

export const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** Replies with an HTTP status and a JSON-RPC error body. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  id: JsonRpcId | null = null,
  headers: OutgoingHttpHeaders = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = errorResponse(id, code, message);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: string, headers?: OutgoingHttpHeaders): void {
  res.writeHead(status, headers ? { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers } : { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The addresses of this host's (pod's) own interfaces, as Host values: a client that reaches the
 * proxy by its pod IP is not a DNS-rebinding attack (that needs a name the attacker controls).
 */
export function ownAddresses(): string[] {
  const addresses: string[] = [];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) addresses.push(entry.family === 'IPv6' ? `[${entry.address}]` : entry.address);
  }
  return addresses;
}

/**
 * DNS-rebinding protection: a request passes when its Host is allowed (an empty list allows any
 * host; `*.suffix` matches subdomains; an entry without a port matches any port) and its Origin,
 * when present, is in the allowed origins (browsers always send Origin; other clients usually do not).
 */
export function createRequestGuard(
  allowedHosts: readonly string[],
  allowedOrigins: readonly string[],
  extraHosts: readonly string[] = [],
): (req: IncomingMessage) => string | undefined {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of allowedHosts.length > 0 ? [...allowedHosts, ...extraHosts] : []) {
    const lower = entry.toLowerCase();
    if (lower.startsWith('*.')) suffixes.push(lower.slice(1));
    else exact.add(lower);
  }
  const origins = new Set(allowedOrigins.map((origin) => origin.toLowerCase().replace(/\/$/, '')));
  const hostAllowed = (host: string | undefined): boolean => {
    if (allowedHosts.length === 0) return true;
    if (!host) return false;
    const lower = host.toLowerCase();
    if (exact.has(lower)) return true;
    const name = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.split(':', 1)[0];
    if (exact.has(name)) return true;
    return suffixes.some((suffix) => name.endsWith(suffix) && name.length > suffix.length);
  };
  return (req) => {
    if (!hostAllowed(req.headers.host)) return `Host ${JSON.stringify(req.headers.host ?? '')} is not allowed (security.allowedHosts)`;
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(origin.toLowerCase())) return `Origin ${JSON.stringify(origin)} is not allowed (security.allowedOrigins)`;
    return undefined;
  };
}

const CORS_PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST, DELETE',
  'access-control-allow-headers': 'content-type, accept, authorization, mcp-session-id, mcp-protocol-version, last-event-id',
  'access-control-max-age': '600',
} as const;

/**
 * For a request the guard let through with an `Origin` (so the origin is allowed): CORS headers on
 * the reply, so the browser may read it and its `Mcp-Session-Id`. Answers a preflight (`OPTIONS`)
 * itself and returns true; otherwise false.
 */
export function answerCors(req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-expose-headers', 'mcp-session-id');
  res.setHeader('vary', 'origin');
  if (req.method !== 'OPTIONS') return false;
  res.writeHead(204, CORS_PREFLIGHT);
  res.end();
  return true;
}
