/**
 * Requests in flight to the backend, keyed by the backend-unique id the proxy gave them.
 *
 * Ids are one increasing integer sequence for the life of the proxy (never reused, not even across
 * backend restarts), so a late answer can never be mistaken for another request's. Every request
 * has the same timeout, so insertion order is deadline order: the timeout sweep stops at the first
 * entry still in time, and no per-request timer exists. The table is an `IdTable`, not a Map (see
 * id-table.ts: a Map's rehashing keeps requests alive past their end).
 */
import type { JsonRpcId, JsonRpcMessage } from '../jsonrpc.ts';
import type { SpanHandle } from '../telemetry/telemetry.ts';
import { IdTable } from './id-table.ts';
import type { Exchange, Session } from './session.ts';

export interface Pending {
  readonly backendId: number;
  /** The id the client used; for the proxy's own requests, the backend id. */
  readonly clientId: JsonRpcId;
  /** Undefined for the proxy's own requests (handshake, tools/list...). */
  readonly session: Session | undefined;
  readonly method: string;
  /** Metric label of a tools/call: an announced tool name, or "other". */
  readonly tool: string | undefined;
  readonly exchange: Exchange | undefined;
  /** The client's progress token, when it asked for progress (the backend sees `progressTokenFor(backendId)` instead). */
  readonly progressToken: JsonRpcId | undefined;
  /** `performance.now()` at receipt, for the latency histogram. */
  readonly startedAt: number;
  readonly deadline: number;
  readonly span: SpanHandle | undefined;
  /** For the proxy's own requests: receives the backend's answer (or a synthesized error). */
  readonly internal: ((message: JsonRpcMessage) => void) | undefined;
}

export type PendingInit = Omit<Pending, 'backendId' | 'deadline'>;

/**
 * The progress tokens the backend gets in place of clients' own: a namespace of the proxy's, so a
 * token a server makes up for a request of its own (the MCP SDK uses its request id, 0, 1, 2...)
 * is never taken for one of a client's requests.
 */
const PROGRESS_TOKEN_PREFIX = 'toolhive-proxy/progress/';

export function progressTokenFor(backendId: number): string {
  return `${PROGRESS_TOKEN_PREFIX}${backendId}`;
}

/** The backend id inside a token from `progressTokenFor`, if `token` is one. */
function backendIdOfToken(token: unknown): number | undefined {
  if (typeof token !== 'string' || !token.startsWith(PROGRESS_TOKEN_PREFIX)) return undefined;
  const digits = token.slice(PROGRESS_TOKEN_PREFIX.length);
  // Exactly as `progressTokenFor` writes it: "03", "3.0" or "0x3" are some other token.
  if (!/^[1-9]\d{0,15}$/.test(digits)) return undefined;
  const id = Number(digits);
  return Number.isSafeInteger(id) ? id : undefined;
}

export class PendingTable {
  private readonly entries = new IdTable<Pending>();
  private nextId = 1;
  private readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  get size(): number {
    return this.entries.size;
  }

  add(init: PendingInit, now: number): Pending {
    const pending: Pending = {
      backendId: this.nextId++,
      clientId: init.clientId,
      session: init.session,
      method: init.method,
      tool: init.tool,
      exchange: init.exchange,
      progressToken: init.progressToken,
      startedAt: init.startedAt,
      deadline: now + this.timeoutMs,
      span: init.span,
      internal: init.internal,
    };
    this.entries.set(pending.backendId, pending);
    init.session?.pending.set(init.clientId, pending);
    return pending;
  }

  /** The request in flight whose client asked for progress under `token` (one from `progressTokenFor`). */
  byProgressToken(token: unknown): Pending | undefined {
    const pending = this.get(backendIdOfToken(token));
    return pending?.progressToken === undefined ? undefined : pending;
  }

  /** Whether `token` is one the proxy gave out, in flight or ended (ids are never reused). */
  issuedProgressToken(token: unknown): boolean {
    const id = backendIdOfToken(token);
    return id !== undefined && id < this.nextId;
  }

  get(backendId: unknown): Pending | undefined {
    return typeof backendId === 'number' ? this.entries.get(backendId) : undefined;
  }

  /** Removes an entry; false if it was already gone (answered, timed out, failed). */
  remove(pending: Pending): boolean {
    if (!this.entries.delete(pending.backendId)) return false;
    const session = pending.session;
    if (session && session.pending.get(pending.clientId) === pending) session.pending.delete(pending.clientId);
    return true;
  }

  /** Entries in the order they were sent (oldest first). */
  values(): Pending[] {
    return this.entries.values();
  }

  /** Removes and returns the entries whose deadline has passed. */
  takeExpired(now: number): Pending[] {
    const expired: Pending[] = [];
    for (const pending of this.entries.values()) {
      if (pending.deadline > now) break;
      expired.push(pending);
    }
    for (const pending of expired) this.remove(pending);
    return expired;
  }

  /** Removes and returns every entry. */
  takeAll(): Pending[] {
    const all = this.entries.values();
    for (const pending of all) this.remove(pending);
    return all;
  }
}
