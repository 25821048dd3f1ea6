/**
 * A minimal HTTP/1.1 keep-alive client over one `net.Socket`, one request at a time.
 *
 * Written by hand because the generator shares two cores with the proxy and the server under test:
 * `node:http` with a keep-alive agent spends about 4× more CPU per request than this (98 against
 * 22 µs at 20 connections) (measured with
 * `node bench/client-cost.ts`), and that CPU would be taken from the target and lower its numbers.
 * It handles exactly what the targets send: `Content-Length` bodies, `chunked` bodies (SSE replies
 * of Streamable HTTP servers) and bodies delimited by connection close. Loopback only.
 */
import net from 'node:net';

export interface HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly sessionId: string | undefined;
  readonly body: string;
}

/** Why a request failed below HTTP: the connection broke, or no answer came in time. */
export class TransportError extends Error {
  readonly kind: 'connection' | 'timeout';
  constructor(kind: 'connection' | 'timeout', message: string) {
    super(message);
    this.kind = kind;
  }
}

const CRLF2 = Buffer.from('\r\n\r\n');

interface Pending {
  resolve(response: HttpResponse): void;
  reject(error: Error): void;
}

export class HttpConnection {
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  /** performance.now() after which the request in flight counts as timed out; 0 when idle. */
  private deadline = 0;
  private timer: NodeJS.Timeout | undefined;
  // Parsed head of the response being read.
  private head: { status: number; contentType: string; sessionId: string | undefined; length: number; chunked: boolean; close: boolean } | undefined;
  private chunks: Buffer[] = [];
  private readonly host: string;
  private readonly port: number;

  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  /** `headers` is pre-rendered (`Name: value\r\n` lines) so the hot path only concatenates. */
  request(method: string, path: string, headers: string, body: string | undefined, timeoutMs: number): Promise<HttpResponse> {
    if (this.pending) return Promise.reject(new Error('HttpConnection: one request at a time'));
    const socket = this.socket ?? this.connect();
    const bodyHead = body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n${headers}${bodyHead}\r\n${body ?? ''}`);
    this.deadline = performance.now() + timeoutMs;
    if (!this.timer) this.arm(timeoutMs);
    return new Promise((resolve, reject) => { this.pending = { resolve, reject }; });
  }

  /**
   * One lazy timer per connection instead of one per request: it is re-armed for the remaining time
   * of whatever request is in flight when it fires, so a fast connection creates a timer about once
   * per timeout period. A timed-out request's socket is destroyed so its late reply cannot be read
   * as the next request's.
   */
  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.pending) return;
      const left = this.deadline - performance.now();
      if (left <= 0) this.fail(new TransportError('timeout', 'no response in time'));
      else this.arm(left + 1);
    }, ms);
    this.timer.unref(); // the socket keeps the process alive while a request is in flight
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    // Events of a socket already given up (timed out, failed) must not touch the next request.
    socket.on('data', (data) => { if (this.socket === socket) this.onData(data); });
    socket.on('error', (error) => { if (this.socket === socket) this.fail(new TransportError('connection', error.message)); });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (this.head && !this.head.chunked && this.head.length < 0) this.finish(); // body delimited by close
      else this.fail(new TransportError('connection', 'connection closed'));
    });
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.head = undefined;
    return socket;
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    this.deadline = 0;
    this.head = undefined;
    this.chunks = [];
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    pending?.reject(error);
  }

  private onData(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    if (!this.pending) { this.fail(new TransportError('connection', 'unexpected bytes')); return; }
    if (!this.head && !this.parseHead()) return;
    this.parseBody();
  }

  private parseHead(): boolean {
    const end = this.buffer.indexOf(CRLF2);
    if (end < 0) return false;
    const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0]!.slice(9, 12));
    let contentType = '', sessionId: string | undefined, length = -1, chunked = false, close = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = value.toLowerCase().includes('chunked');
      else if (name === 'content-type') contentType = value;
      else if (name === 'mcp-session-id') sessionId = value;
      else if (name === 'connection') close = value.toLowerCase() === 'close';
    }
    // A response without a body length on a keep-alive connection can only be empty (204, 304, 1xx).
    if (length < 0 && !chunked && !close && (status === 204 || status === 304)) length = 0;
    this.head = { status, contentType, sessionId, length, chunked, close };
    this.buffer = this.buffer.subarray(end + 4);
    return true;
  }

  private parseBody(): void {
    const head = this.head!;
    if (head.chunked) {
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n');
        if (lineEnd < 0) return;
        const size = parseInt(this.buffer.toString('latin1', 0, lineEnd), 16);
        if (Number.isNaN(size)) { this.fail(new TransportError('connection', 'bad chunk size')); return; }
        if (size === 0) {
          // Last chunk: no trailers are sent by the targets, so the terminator is the next CRLF.
          if (this.buffer.length < lineEnd + 4) return;
          this.buffer = this.buffer.subarray(lineEnd + 4);
          this.finish();
          return;
        }
        if (this.buffer.length < lineEnd + 2 + size + 2) return;
        this.chunks.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        this.buffer = this.buffer.subarray(lineEnd + 2 + size + 2);
      }
    }
    if (head.length >= 0 && this.buffer.length >= head.length) {
      this.chunks.push(this.buffer.subarray(0, head.length));
      this.buffer = this.buffer.subarray(head.length);
      this.finish();
    } else if (head.length < 0) {
      this.chunks.push(this.buffer); // read until close
      this.buffer = Buffer.alloc(0);
    }
  }

  private finish(): void {
    const head = this.head!;
    const body = this.chunks.length === 1 ? this.chunks[0]!.toString('utf8') : Buffer.concat(this.chunks).toString('utf8');
    const pending = this.pending;
    this.head = undefined;
    this.chunks = [];
    this.pending = undefined;
    this.deadline = 0;
    if (head.close || head.length < 0 && !head.chunked) this.close();
    pending?.resolve({ status: head.status, contentType: head.contentType, sessionId: head.sessionId, body });
  }
}
