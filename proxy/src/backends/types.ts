import type { Logger } from '../log.ts';

/**
 * The stream-backend interface: a transport that carries newline-delimited JSON-RPC to and from one
 * MCP server process over its stdio. `spawn` (a local child) and `attach` (a pod's container through
 * the Kubernetes API) implement it; the multiplexer sits on top and never knows which one it has.
 *
 * The `http` backend is not a stream: it is a reverse proxy and has its own front path.
 *
 * Contract:
 * - `start()` begins connecting and returns at once; progress is reported through `onStatus`.
 * - Every complete stdout line is delivered to `onMessage` exactly once, without its newline,
 *   in order. Partial lines are buffered by the backend; stderr never reaches `onMessage`.
 * - `send()` takes one serialized JSON-RPC message (no newline). It returns `false` when the
 *   backend is not `up`: the message was not written and the caller must fail the request.
 *   Backends may coalesce several sends of one tick into one write.
 * - `onStatus` reports `up` each time a connection to the process is established, with
 *   `newProcess` telling whether this is a process the proxy has not talked to before (first start,
 *   restarted child, restarted container, replaced pod): only then does the multiplexer run the
 *   MCP `initialize` handshake again. A re-attach to a live process reports `newProcess: false`.
 * - `down` is reported once per lost connection with a human-readable `reason` that names the
 *   cause ("child exited with code 1", "container mcp restarted (restartCount 3)"). The backend
 *   then recovers on its own (backoff) until `stop()`. While not up it may report `down` again
 *   when the reason changes. A loss whose cause is not known yet is reported `provisional`; the
 *   first later `down` that is not provisional names the cause, or, when the same process comes
 *   back, the next `up` (`newProcess: false`) shows it was the connection.
 * - `stdinBacklog()` tells how much of what `send()` took has not been taken by the server's stdin
 *   yet, as far as the proxy can see: a server that stops reading makes it grow, and the
 *   multiplexer refuses new work rather than queueing without bound.
 * - `stop()` ends the process or connection for good and resolves when it is gone.
 */
export type BackendStatus =
  | { readonly state: 'up'; readonly newProcess: boolean; readonly detail?: string }
  | { readonly state: 'down'; readonly reason: string; readonly retryInMs?: number; readonly provisional?: true };

export interface StreamBackend {
  /** `spawn` or `attach`: the `backend` label of backend metrics. */
  readonly kind: string;
  start(): void;
  send(message: string): boolean;
  /**
   * Bytes (UTF-16 code units while still queued as text) sent and not yet handed to the operating
   * system: the proxy's part of what waits for the server's stdin. 0 while not up.
   */
  stdinBacklog(): number;
  onMessage(handler: (message: string) => void): void;
  onStatus(handler: (status: BackendStatus) => void): void;
  /**
   * The MCP handshake with the process of the last `up` succeeded. A backend that can reconnect to
   * a live process (attach) reports it as new until then, so it is initialized again rather than
   * used uninitialized.
   */
  handshakeDone?(): void;
  stop(): Promise<void>;
}

/** Time, passed in so tests can drive backoff and liveness deterministically. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** What every stream backend is constructed with, besides its own config section. */
export interface BackendDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
}
