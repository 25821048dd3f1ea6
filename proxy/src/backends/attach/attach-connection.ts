/**
 * One `pods/attach` WebSocket session: channel framing, stdin coalescing, the status channel.
 *
 * Written on our own WebSocket client (./websocket.ts) with `KubeConfig.applyToHTTPSOptions` (the
 * library still supplies the credentials, TLS, proxy agent and in-cluster token handling) instead of
 * the library's `Attach`, because `Attach` and its `WebSocketHandler` cannot do what this backend
 * needs:
 * - `Attach` swallows the status channel (3): the `metav1.Status` is how an in-band Failure
 *   ("container mcp not found") is told apart from a normal end;
 * - `WebSocketHandler` always offers v5 first (which routes a real apiserver through its SPDY
 *   translator, see docs/attach.md), is not exported from the package entry point, and loses the
 *   HTTP body of a refused upgrade (the 403 Status that names the missing permission);
 * - its stdin pump sends the v5 close-stdin frame when the stream ends, which ends the whole
 *   attach session (stdinOnce: false), and writes one message per chunk instead of per tick.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { describeApiFailure, parseChannelStatus, type ApiFailure, type ApiRequest } from './kube-errors.ts';
import { SubprotocolError, UpgradeRefusedError, openWebSocket, type WebSocketConnection, type WebSocketHandlers } from './websocket.ts';

export type ChannelProtocol = 'v5.channel.k8s.io' | 'v4.channel.k8s.io';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
/**
 * Queued stdin lines go out as soon as they reach this many characters (UTF-16 code units, about
 * bytes for JSON), so one message holds at most this much plus the line that crossed it.
 */
const MAX_STDIN_MESSAGE_BYTES = 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 15_000;

export interface AttachTarget {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly protocol: ChannelProtocol;
}

/** How a session ended. */
export interface AttachEnd {
  readonly code: number;
  /** The status channel's last `metav1.Status`, if the server sent one. */
  readonly status?: { readonly status?: string; readonly message?: string; readonly code?: number };
  readonly error?: Error;
}

export interface AttachHandlers {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** A WebSocket pong: the path to the kubelet is alive (whatever the process is doing). */
  pong(): void;
  closed(end: AttachEnd): void;
}

/** A refused attach: the HTTP answer to the upgrade, or a transport error. */
export class AttachOpenError extends Error {
  readonly failure: ApiFailure;
  /** The server did not speak the offered subprotocol: try the next one. */
  readonly protocolRejected: boolean;
  constructor(failure: ApiFailure, protocolRejected: boolean) {
    super(failure.message);
    this.failure = failure;
    this.protocolRejected = protocolRejected;
  }
}

export class AttachConnection {
  readonly protocol: ChannelProtocol;
  private ws!: WebSocketConnection;
  private queue: string[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  /** Resolves when the socket is closed, however that happened. */
  readonly closed: Promise<void>;
  private markClosed: () => void = () => {};

  private constructor(protocol: ChannelProtocol) {
    this.protocol = protocol;
    this.closed = new Promise((resolve) => { this.markClosed = resolve; });
  }

  static async open(kc: KubeConfig, target: AttachTarget, handlers: AttachHandlers): Promise<AttachConnection> {
    const request: ApiRequest = {
      verb: 'get', resource: 'pods', subresource: 'attach', namespace: target.namespace, name: target.pod,
    };
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new AttachOpenError({ message: 'the kubeconfig has no current cluster' }, false);
    const options: { headers?: Record<string, string> } = {};
    await kc.applyToHTTPSOptions(options);
    const query = new URLSearchParams({
      container: target.container, stdin: 'true', stdout: 'true', stderr: 'true', tty: 'false',
    });
    const url = `${cluster.server}/api/v1/namespaces/${encodeURIComponent(target.namespace)}` +
      `/pods/${encodeURIComponent(target.pod)}/attach?${query}`;
    const connection = new AttachConnection(target.protocol);
    try {
      connection.ws = await openWebSocket({ url, protocol: target.protocol, options, timeoutMs: HANDSHAKE_TIMEOUT_MS }, connection.handlers(handlers));
    } catch (error) {
      if (error instanceof UpgradeRefusedError) {
        // The body is the apiserver's `metav1.Status`: for a 403 it names the missing permission.
        const failure = describeApiFailure(request, undefined, error.statusCode, error.body);
        throw new AttachOpenError(failure, error.statusCode === 400 && /protocol/i.test(error.body));
      }
      throw new AttachOpenError(describeApiFailure(request, error), error instanceof SubprotocolError);
    }
    return connection;
  }

  /**
   * Queues one line for stdin. Lines of one tick leave as one WebSocket message: each message
   * must be whole (the apiserver passes only the first fragment of a fragmented one).
   */
  write(line: string): boolean {
    if (!this.ws.isOpen) return false;
    this.queue.push(line);
    this.queuedBytes += line.length + 1;
    if (this.queuedBytes >= MAX_STDIN_MESSAGE_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Queued lines and the bytes the socket has not handed to the operating system yet. */
  get backlog(): number {
    return this.queuedBytes + this.ws.bufferedAmount;
  }

  /** Sends bytes to stdin at once, outside the line queue (the lone "\n" that clears a partial line). */
  writeRaw(data: string): void {
    this.sendStdin(data);
  }

  /** A WebSocket ping; the kubelet's stream server answers it (it does not count as stream activity). */
  ping(): void {
    this.ws.ping();
  }

  /** A normal close (1000): the container's stdin gets nothing, the process lives on. */
  close(): void {
    this.flush();
    this.ws.close(1000);
  }

  /** Drops the connection without a handshake: for a connection already presumed dead. */
  terminate(): void {
    this.ws.terminate();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    const lines = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.sendStdin(lines.join('\n') + '\n');
  }

  private sendStdin(text: string): void {
    this.ws.sendBinary(Buffer.byteLength(text) + 1, (buffer, offset) => {
      buffer[offset] = STDIN;
      buffer.write(text, offset + 1, 'utf8');
    });
  }

  private handlers(handlers: AttachHandlers): WebSocketHandlers {
    let status: AttachEnd['status'];
    return {
      message: (data, binary) => {
        if (!binary || data.length === 0) return;
        const channel = data[0];
        if (channel === STDOUT) handlers.stdout(data.subarray(1));
        else if (channel === STDERR) handlers.stderr(data.subarray(1));
        else if (channel === STATUS) {
          status = parseChannelStatus(data.subarray(1).toString('utf8')) ?? status;
        }
        // 255 (v5 close of one stream) needs no action: the session's close follows.
      },
      pong: () => handlers.pong(),
      closed: (code, error) => {
        this.queue = [];
        this.markClosed();
        handlers.closed({ code, ...(status ? { status } : {}), ...(error ? { error } : {}) });
      },
    };
  }
}
