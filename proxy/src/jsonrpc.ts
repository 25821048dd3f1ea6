/**
 * JSON-RPC 2.0 as MCP uses it: message classification, id rules and the error codes the proxy emits.
 *
 * MCP ids are strings or integers, never null. JavaScript numbers hold integers exactly only up to
 * 2^53 − 1, and a reply must echo the client's id exactly, so larger integers are refused rather than
 * answered with a rounded id the client would not recognise.
 */
export type JsonRpcId = string | number;

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method?: string;
  params?: Record<string, unknown> & { _meta?: Record<string, unknown> };
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export type MessageKind = 'request' | 'notification' | 'response';

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** The backend (MCP server process or connection) is unavailable. */
export const BACKEND_UNAVAILABLE = -32000;
/** No response within `limits.requestTimeoutMs` (the MCP SDK's RequestTimeout code). */
export const REQUEST_TIMEOUT = -32001;
/** A limit of the proxy refused the request (in-flight, sessions, shutting down). */
export const PROXY_OVERLOADED = -32002;
/** The request was cancelled (by its client, or because its session ended). */
export const REQUEST_CANCELLED = -32800;

export function isValidId(id: unknown): id is JsonRpcId {
  return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id));
}

/**
 * Classifies one parsed value, or returns the reason it is not a JSON-RPC 2.0 message MCP accepts.
 * `params` must be an object when present (MCP never uses positional params).
 */
export function classify(value: unknown): MessageKind | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a JSON-RPC message must be a JSON object';
  const msg = value as Record<string, unknown>;
  if (msg.jsonrpc !== '2.0') return 'a JSON-RPC message needs "jsonrpc": "2.0"';
  if (typeof msg.method === 'string') {
    if (msg.params !== undefined && !isPlainObject(msg.params)) return '"params" must be an object';
    const meta = (msg.params as Record<string, unknown> | undefined)?._meta;
    if (meta !== undefined && !isPlainObject(meta)) return '"params._meta" must be an object';
    if (!('id' in msg)) return 'notification';
    if (!isValidId(msg.id)) return `"id" must be a string or an integer within ±(2^53 − 1), not ${JSON.stringify(msg.id)}`;
    return 'request';
  }
  if ('method' in msg) return '"method" must be a string';
  if (('result' in msg) !== ('error' in msg)) {
    if (!isValidId(msg.id)) return `a response "id" must be a string or an integer, not ${JSON.stringify(msg.id)}`;
    return 'response';
  }
  return 'a JSON-RPC message needs "method" (request, notification) or exactly one of "result" and "error" (response)';
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } });
}

export function resultResponse(id: JsonRpcId, result: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result });
}

/** The id of a message as far as it can be read (for error replies to malformed requests). */
export function readableId(value: unknown): JsonRpcId | null {
  if (typeof value !== 'object' || value === null) return null;
  const id = (value as Record<string, unknown>).id;
  return isValidId(id) ? id : null;
}

/**
 * When a serialized message's last member is an integer `"id"` (`...,"id":42}`), returns the id and
 * the offset of `,"id":`. Such a member can only belong to the top-level object: a nested object
 * would end the text with `}}`, a string with `"}`.
 */
export function trailingId(text: string): [id: number, at: number] | undefined {
  if (text.charCodeAt(text.length - 1) !== 125 /* } */) return undefined;
  const at = text.lastIndexOf(',"id":');
  const first = at + 6;
  const last = text.length - 1;
  if (at === -1 || last === first || last - first > 15) return undefined;
  let id = 0;
  for (let i = first; i < last; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    id = id * 10 + digit;
  }
  return [id, at];
}
