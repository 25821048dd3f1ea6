/**
 * One `pods/attach` WebSocket session: channel framing, stdin coalescing, the status channel.
 *
 * Written on `ws` with `KubeConfig.applyToHTTPSOptions` (the library still supplies the
 * credentials, TLS and in-cluster token handling) instead of the library's `Attach`, because
 * `Attach` and its `WebSocketHandler` cannot do what this backend needs:
 * - `Attach` swallows the status channel (3): the `metav1.Status` is how an in-band Failure
 *   ("container mcp not found") is told apart from a normal end;
 * - `WebSocketHandler` always offers v5 first (which routes a real apiserver through its SPDY
 *   translator, see docs/attach.md), is not exported from the package entry point, and loses the
 *   HTTP body of a refused upgrade (the 403 Status that names the missing permission);
 * - its stdin pump sends the v5 close-stdin frame when the stream ends, which ends the whole
 *   attach session (stdinOnce: false), and writes one message per chunk instead of per tick.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { describeApiFailure, parseChannelStatus, type ApiFailure, type ApiRequest } from './kube-errors.ts';

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
  private readonly ws: WebSocket;
  private queue: string[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  /** Resolves when the socket is closed, however that happened. */
  readonly closed: Promise<void>;
  private markClosed: () => void = () => {};

  private constructor(ws: WebSocket, protocol: ChannelProtocol) {
    this.ws = ws;
    this.protocol = protocol;
    this.closed = new Promise((resolve) => { this.markClosed = resolve; });
  }

  static async open(kc: KubeConfig, target: AttachTarget, handlers: AttachHandlers): Promise<AttachConnection> {
    const request: ApiRequest = {
      verb: 'get', resource: 'pods', subresource: 'attach', namespace: target.namespace, name: target.pod,
    };
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new AttachOpenError({ message: 'the kubeconfig has no current cluster' }, false);
    const options: WebSocket.ClientOptions & { headers?: Record<string, string> } = {};
    await kc.applyToHTTPSOptions(options);
    const query = new URLSearchParams({
      container: target.container, stdin: 'true', stdout: 'true', stderr: 'true', tty: 'false',
    });
    const url = `${cluster.server.replace(/^http/, 'ws')}/api/v1/namespaces/${encodeURIComponent(target.namespace)}` +
      `/pods/${encodeURIComponent(target.pod)}/attach?${query}`;
    const ws = new WebSocket(url, [target.protocol], {
      ...options, perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: AttachOpenError): void => {
        if (settled) return;
        settled = true;
        reject(error);
        ws.terminate();
      };
      ws.on('unexpected-response', (req, res) => {
        // The body is the apiserver's `metav1.Status`: for a 403 it names the missing permission.
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => { if ((size += chunk.length) <= 65_536) chunks.push(chunk); });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const failure = describeApiFailure(request, undefined, res.statusCode, body);
          fail(new AttachOpenError(failure, res.statusCode === 400 && /protocol/i.test(body)));
          req.destroy();
        });
        res.on('error', () => {});
      });
      ws.on('error', (error) => {
        // ws throws "Server sent no subprotocol" when the server ignores the offered one.
        fail(new AttachOpenError(describeApiFailure(request, error), /subprotocol/i.test(error.message)));
      });
      ws.on('open', () => {
        if (settled) return;
        settled = true;
        const connection = new AttachConnection(ws, target.protocol);
        connection.wire(handlers);
        resolve(connection);
      });
    });
  }

  /**
   * Queues one line for stdin. Lines of one tick leave as one WebSocket message: each message
   * must be whole (the apiserver passes only the first fragment of a fragmented one).
   */
  write(line: string): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
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
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  /** A normal close (1000): the container's stdin gets nothing, the process lives on. */
  close(): void {
    this.flush();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
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
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const size = Buffer.byteLength(text);
    const message = Buffer.allocUnsafe(size + 1);
    message[0] = STDIN;
    message.write(text, 1, 'utf8');
    this.ws.send(message, { binary: true });
  }

  private wire(handlers: AttachHandlers): void {
    let status: AttachEnd['status'];
    let error: Error | undefined;
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0) return;
      const channel = data[0];
      if (channel === STDOUT) handlers.stdout(data.subarray(1));
      else if (channel === STDERR) handlers.stderr(data.subarray(1));
      else if (channel === STATUS) {
        status = parseChannelStatus(data.subarray(1).toString('utf8')) ?? status;
      }
      // 255 (v5 close of one stream) needs no action: the session's close follows.
    });
    this.ws.on('pong', () => handlers.pong());
    this.ws.on('error', (e) => { error = e; });
    this.ws.on('close', (code) => {
      this.queue = [];
      this.markClosed();
      handlers.closed({ code, ...(status ? { status } : {}), ...(error ? { error } : {}) });
    });
  }
}
