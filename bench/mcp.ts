/**
 * The MCP messages the generator sends and the checks on what comes back.
 *
 * Bodies are built from templates rather than JSON.stringify: payloads are `[A-Za-z0-9.-]` only, so
 * no escaping is needed, and the generator stays cheap. Replies are parsed fully: correctness is the
 * point of the checks, and JSON.parse of a 100-byte reply costs little.
 */
export const PROTOCOL_VERSION = '2025-06-18';

/** Why a request did not succeed; `http <status>` is its own kind per status code. */
export type FailureKind = 'misrouted' | 'jsonrpc' | 'timeout' | 'connection' | 'invalid' | `http ${number}`;

export function initializeBody(id: number): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"initialize","params":{"protocolVersion":"${PROTOCOL_VERSION}","capabilities":{},"clientInfo":{"name":"toolhive-bench","version":"1"}}}`;
}

export const INITIALIZED_BODY = '{"jsonrpc":"2.0","method":"notifications/initialized"}';

export function echoBody(id: number, payload: string): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":"${payload}"}}}`;
}

interface JsonRpcReply {
  id?: unknown;
  result?: { content?: Array<{ text?: unknown }>; protocolVersion?: unknown };
  error?: unknown;
}

/**
 * The JSON-RPC messages in a body: one JSON object (or batch), or an SSE stream whose `data:` lines
 * each hold one message. Returns undefined when the body is neither.
 */
export function messagesOf(contentType: string, body: string): JsonRpcReply[] | undefined {
  try {
    if (contentType.startsWith('text/event-stream')) {
      const messages: JsonRpcReply[] = [];
      for (const line of body.split('\n')) {
        if (line.startsWith('data:')) messages.push(JSON.parse(line.slice(5)) as JsonRpcReply);
      }
      return messages;
    }
    const parsed = JSON.parse(body) as JsonRpcReply | JsonRpcReply[];
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return undefined;
  }
}

/**
 * Checks the reply to request `id`. A reply to another id, or an echo of another payload, is
 * `misrouted`: the reply belongs to someone else (ids repeat across sessions on purpose).
 */
export function checkReply(messages: readonly JsonRpcReply[], id: number, payload: string | undefined): FailureKind | undefined {
  const replies = messages.filter((m) => m.id !== undefined && m.id !== null);
  if (replies.length === 0) return 'invalid';
  const reply = replies.find((m) => m.id === id);
  if (!reply || replies.length > 1) return 'misrouted';
  if (reply.error !== undefined) return 'jsonrpc';
  if (payload === undefined) return reply.result?.protocolVersion === undefined ? 'invalid' : undefined;
  const text = reply.result?.content?.[0]?.text;
  if (typeof text !== 'string' || !text.startsWith('Echo: ')) return 'invalid';
  return text === `Echo: ${payload}` ? undefined : 'misrouted';
}
