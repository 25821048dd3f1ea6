/**
 * RFC 6455 as an attach session uses it: the client handshake on Node's `http`/`https`, then
 * frames on the upgraded socket. One offered subprotocol, no extensions, binary and text messages
 * (fragmented ones reassembled; text, and a close frame's reason, must be UTF-8), ping, pong and
 * the close handshake. The proxy is the client; the server role is what the API emulator in
 * the tests serves attach with.
 *
 * Why not `ws`: on the attach path every request passes through the WebSocket twice, and the proxy's
 * CPU decides throughput. `ws` runs each received chunk through a `Writable` stream and copies each
 * sent message once more to mask it; side by side in one benchmark run the proxy spent about a fifth
 * less CPU per request with this (docs/attach.md, "Without `ws` on the data path"). Its frames are read straight from
 * the socket's chunks and a message is masked in the buffer it was written into, then sent with one
 * write. What it must get right is covered against `ws`, an independent implementation, in
 * test/attach/websocket.test.ts.
 *
 * The request options come from `KubeConfig.applyToHTTPSOptions` (credentials, the cluster CA, the
 * client certificate, the agent for an HTTP or SOCKS proxy), exactly as the library passes them to
 * `ws`.
 */
import { isUtf8 } from 'node:buffer';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The apiserver ends a connection on a message of 32 MiB or more (docs/attach.md); so does this client. */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024 - 1;
/** How much of a refused upgrade's body is kept (a `metav1.Status` is far smaller). */
const MAX_REFUSAL_BODY_BYTES = 65_536;
/** After a close frame is sent, how long the peer has to end the TCP connection (by default). */
export const CLOSE_TIMEOUT_MS = 30_000;

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** Close code when the connection ended without a close frame (RFC 6455 §7.1.5). */
export const CLOSE_ABNORMAL = 1006;
/** Close code reported for a close frame that carried none. */
export const CLOSE_NO_STATUS = 1005;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_INVALID_DATA = 1007;
const CLOSE_TOO_BIG = 1009;

export interface WebSocketHandlers {
  message(data: Buffer, binary: boolean): void;
  pong(): void;
  /** Once, when the TCP connection is gone: the close code received (or 1006), and what went wrong if anything did. */
  closed(code: number, error?: Error): void;
}

export interface WebSocketRequest {
  /** `ws://` or `wss://` (`http://`/`https://` are taken as the same). */
  readonly url: string;
  /** The one subprotocol offered; the server must choose it. */
  readonly protocol: string;
  /** Passed to `http.request`/`https.request`: headers, agent, ca, cert, key, rejectUnauthorized, auth, ... */
  readonly options?: https.RequestOptions;
  readonly timeoutMs: number;
  /** After our close frame, how long the server has to end the connection before it is dropped. */
  readonly closeTimeoutMs?: number;
}

/** The server answered the upgrade with something other than 101. */
export class UpgradeRefusedError extends Error {
  readonly statusCode: number;
  readonly body: string;
  constructor(statusCode: number, body: string) {
    super(`the server refused the WebSocket upgrade: HTTP ${statusCode}`);
    this.statusCode = statusCode;
    this.body = body;
  }
}

/** The server upgraded without choosing the offered subprotocol (none, or another): try the next one. */
export class SubprotocolError extends Error {}

/** Opens a connection; rejects with UpgradeRefusedError, SubprotocolError or a transport/handshake Error. */
export function openWebSocket(request: WebSocketRequest, handlers: WebSocketHandlers): Promise<WebSocketConnection> {
  const url = new URL(request.url.replace(/^http/, 'ws'));
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`not a WebSocket URL: ${request.url}`);
  const secure = url.protocol === 'wss:';
  const key = randomBytes(16).toString('base64');
  const options = request.options ?? {};
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = (secure ? https : http).request({
      ...options,
      protocol: secure ? 'https:' : 'http:',
      // An IPv6 literal comes bracketed from URL; the request wants it bare.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: {
        ...options.headers,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Protocol': request.protocol,
      },
    });
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
      req.destroy();
    };
    const timer = setTimeout(() => fail(new Error(`the WebSocket opening handshake timed out after ${request.timeoutMs} ms`)), request.timeoutMs);
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => { if ((size += chunk.length) <= MAX_REFUSAL_BODY_BYTES) chunks.push(chunk); });
      res.on('end', () => fail(new UpgradeRefusedError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
      res.on('error', fail);
    });
    req.on('upgrade', (res, socket: Duplex, head: Buffer) => {
      if (settled) {
        socket.destroy();
        return;
      }
      const problem = String(res.headers.upgrade ?? '').toLowerCase() !== 'websocket' ? 'the 101 answer has no "Upgrade: websocket"'
        : res.headers['sec-websocket-accept'] !== acceptValue(key) ? 'the server sent a wrong Sec-WebSocket-Accept'
        : res.headers['sec-websocket-extensions'] ? `the server chose extensions that were not offered (${res.headers['sec-websocket-extensions']})`
        : undefined;
      const chosen = res.headers['sec-websocket-protocol'];
      if (problem || chosen !== request.protocol) {
        socket.destroy();
        fail(problem ? new Error(problem)
          : new SubprotocolError(chosen === undefined ? `the server sent no subprotocol (offered ${request.protocol})`
            : `the server chose subprotocol "${chosen}", not the offered ${request.protocol}`));
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(new WebSocketConnection(socket, head, request.protocol, handlers, 'client', request.closeTimeoutMs));
    });
    req.end();
  });
}

type State = 'open' | 'closing' | 'closed';

/**
 * A client masks what it sends and takes only unmasked frames; a server the reverse. The proxy is
 * a client; the server role is what the API emulator in the tests speaks.
 */
export type WebSocketRole = 'client' | 'server';

/** The value of Sec-WebSocket-Accept that answers `key` (RFC 6455 §4.2.2). */
export function acceptValue(key: string): string {
  return createHash('sha1').update(key + ACCEPT_GUID).digest('base64');
}

export class WebSocketConnection {
  readonly protocol: string;
  private readonly socket: Duplex;
  private readonly handlers: WebSocketHandlers;
  /** Client: frames sent are masked, frames received must not be. Server: the reverse. */
  private readonly client: boolean;
  private readonly closeTimeoutMs: number;
  private state: State = 'open';
  private closeSent = false;
  private receivedCode: number | undefined;
  private failure: { code: number; error: Error } | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  /** Bytes received but not parsed yet, and how many the next step needs (a header, or a whole frame). */
  private parts: Buffer[] = [];
  private partBytes = 0;
  private need = 2;
  /** A fragmented message being reassembled. */
  private fragments: Buffer[] | undefined;
  private fragmentsBytes = 0;
  private fragmentsBinary = false;

  constructor(
    socket: Duplex, head: Buffer, protocol: string, handlers: WebSocketHandlers, role: WebSocketRole = 'client',
    closeTimeoutMs = CLOSE_TIMEOUT_MS,
  ) {
    this.socket = socket;
    this.protocol = protocol;
    this.handlers = handlers;
    this.client = role === 'client';
    this.closeTimeoutMs = closeTimeoutMs;
    const tcp = socket as Duplex & { setNoDelay?(noDelay: boolean): void; setTimeout?(ms: number): void };
    tcp.setNoDelay?.(true);
    tcp.setTimeout?.(0);
    if (head.length > 0) socket.unshift(head);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // The peer closed its side: close ours, the socket's 'close' follows. Nothing more can be sent.
    socket.on('end', () => {
      this.closing();
      socket.end();
    });
    // A socket error (a reset, a write to a closed socket) ends the connection like a drop: 1006,
    // reported without the error, as `ws` reported it.
    socket.on('error', () => this.closing());
    socket.on('close', () => this.ended());
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Bytes written but not handed to the operating system yet. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /**
   * Sends one binary message of `length` bytes, which `fill` writes at `buffer[offset]` onwards:
   * a client's message is masked where it was written; it leaves in one socket write. False once closing.
   */
  sendBinary(length: number, fill: (buffer: Buffer, offset: number) => void): boolean {
    if (this.state !== 'open') return false;
    this.socket.write(frame(OP_BINARY, length, fill, this.client));
    return true;
  }

  ping(): void {
    if (this.state === 'open') this.socket.write(frame(OP_PING, 0, () => {}, this.client));
  }

  /** Starts the close handshake; the TCP connection ends once the peer answers (or is dropped after the close timeout, 30 s by default). */
  close(code = 1000): void {
    if (this.state === 'closed') return;
    this.sendClose(code);
  }

  /** Drops the TCP connection without a handshake. */
  terminate(): void {
    if (this.state === 'closed') return;
    this.closing();
    this.socket.destroy();
  }

  private closing(): void {
    if (this.state === 'open') this.state = 'closing';
  }

  private sendClose(code: number): void {
    this.closing();
    if (!this.closeSent) {
      this.closeSent = true;
      this.socket.write(frame(OP_CLOSE, 2, (buffer, offset) => buffer.writeUInt16BE(code, offset), this.client));
    }
    if (this.receivedCode !== undefined || this.failure) this.socket.end();
    if (!this.closeTimer) {
      this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeoutMs);
      this.closeTimer.unref();
    }
  }

  private ended(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.closeTimer);
    this.parts = [];
    this.fragments = undefined;
    this.handlers.closed(this.failure?.code ?? this.receivedCode ?? CLOSE_ABNORMAL, this.failure?.error);
  }

  private receive(chunk: Buffer): void {
    if (this.failure || this.receivedCode !== undefined) return;
    if (this.partBytes > 0) {
      this.parts.push(chunk);
      this.partBytes += chunk.length;
      if (this.partBytes < this.need) return;
      chunk = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
      this.parts = [];
      this.partBytes = 0;
    }
    let offset = 0;
    while (offset < chunk.length && !this.failure && this.receivedCode === undefined) {
      const frameBytes = this.frameAt(chunk, offset);
      if (frameBytes === 0) {
        if (this.failure) return;
        const rest = chunk.subarray(offset);
        this.parts = [rest];
        this.partBytes = rest.length;
        return;
      }
      offset += frameBytes;
    }
    this.need = 2;
  }

  /**
   * Handles the frame at `offset`; returns its size, or 0 when it is not all here yet (`need` says
   * how much must be) or the server broke the protocol (`failure` is set).
   */
  private frameAt(chunk: Buffer, offset: number): number {
    const available = chunk.length - offset;
    if (available < 2) {
      this.need = 2;
      return 0;
    }
    const b0 = chunk[offset]!;
    const b1 = chunk[offset + 1]!;
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) header = 4;
    else if (length === 127) header = 10;
    if (available < header) {
      this.need = header;
      return 0;
    }
    if (header === 4) length = chunk.readUInt16BE(offset + 2);
    else if (header === 10) {
      const high = chunk.readUInt32BE(offset + 2);
      // Anything from 2^32 on is far past the limit: no need for exact arithmetic beyond 2^53.
      length = high > 0 ? Number.MAX_SAFE_INTEGER : chunk.readUInt32BE(offset + 6);
    }
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    const masked = (b1 & 0x80) !== 0;
    if ((b0 & 0x70) !== 0) return this.violation(CLOSE_PROTOCOL_ERROR, 'reserved bits set without an extension');
    if (masked === this.client) {
      return this.violation(CLOSE_PROTOCOL_ERROR, this.client ? 'the server masked a frame' : 'a client frame is not masked');
    }
    if (masked) header += 4;
    // Judged at the header, before a payload of up to 32 MiB is waited for.
    if (opcode >= 0x8) {
      if (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG) return this.violation(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
      if (!fin || length > 125) return this.violation(CLOSE_PROTOCOL_ERROR, 'a control frame is fragmented or longer than 125 bytes');
    } else {
      if (opcode !== OP_CONTINUATION && opcode !== OP_TEXT && opcode !== OP_BINARY) return this.violation(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
      if (opcode === OP_CONTINUATION && !this.fragments) return this.violation(CLOSE_PROTOCOL_ERROR, 'a continuation frame outside a fragmented message');
      if (opcode !== OP_CONTINUATION && this.fragments) return this.violation(CLOSE_PROTOCOL_ERROR, 'a new message inside a fragmented one');
      if (length > MAX_MESSAGE_BYTES || this.fragmentsBytes + length > MAX_MESSAGE_BYTES) {
        return this.violation(CLOSE_TOO_BIG, `a message of more than ${MAX_MESSAGE_BYTES} bytes`);
      }
    }
    if (available < header + length) {
      this.need = header + length;
      return 0;
    }
    const payload = chunk.subarray(offset + header, offset + header + length);
    if (masked) mask(payload, chunk.subarray(offset + header - 4, offset + header));
    switch (opcode) {
      case OP_BINARY:
      case OP_TEXT:
        if (fin) this.deliver(payload, opcode === OP_BINARY);
        else {
          this.fragments = [payload];
          this.fragmentsBytes = length;
          this.fragmentsBinary = opcode === OP_BINARY;
        }
        break;
      case OP_CONTINUATION: {
        // Checked at the header: a continuation comes only inside a fragmented message.
        const fragments = this.fragments!;
        fragments.push(payload);
        this.fragmentsBytes += length;
        if (fin) {
          const message = Buffer.concat(fragments, this.fragmentsBytes);
          this.fragments = undefined;
          this.fragmentsBytes = 0;
          this.deliver(message, this.fragmentsBinary);
        }
        break;
      }
      case OP_PING:
        if (this.state === 'open') this.socket.write(frame(OP_PONG, length, (buffer, at) => payload.copy(buffer, at), this.client));
        break;
      case OP_PONG:
        this.handlers.pong();
        break;
      case OP_CLOSE:
        return this.closeReceived(payload) ? header + length : 0;
    }
    return header + length;
  }

  /** A whole message to the handler; text that is not UTF-8 fails the connection (RFC 6455 §8.1). */
  private deliver(message: Buffer, binary: boolean): void {
    if (binary || isUtf8(message)) this.handlers.message(message, binary);
    else this.violation(CLOSE_INVALID_DATA, 'a text message that is not UTF-8');
  }

  /** Returns false when the close frame itself was invalid. */
  private closeReceived(payload: Buffer): boolean {
    if (payload.length === 1) {
      this.violation(CLOSE_PROTOCOL_ERROR, 'a close frame with a one-byte payload');
      return false;
    }
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : CLOSE_NO_STATUS;
    if (payload.length >= 2 && !validCloseCode(code)) {
      this.violation(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
      return false;
    }
    if (payload.length > 2 && !isUtf8(payload.subarray(2))) {
      this.violation(CLOSE_INVALID_DATA, 'a close reason that is not UTF-8');
      return false;
    }
    this.receivedCode = code;
    // Echo the code (RFC 6455 §5.5.1); a close without one is answered with 1000.
    this.sendClose(code === CLOSE_NO_STATUS ? 1000 : code);
    return true;
  }

  /** The peer broke the protocol: close with `code` and read nothing more. 0 for `frameAt` to return. */
  private violation(code: number, message: string): 0 {
    this.failure ??= { code, error: new Error(`WebSocket protocol error: ${message}`) };
    this.parts = [];
    this.partBytes = 0;
    this.sendClose(code);
    return 0;
  }
}

/** Codes a close frame may carry (RFC 6455 §7.4; 1004–1006 and 1015 are never sent). */
function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** Mask keys come from a pool refilled from the CSPRNG (RFC 6455 §5.3: unpredictable per frame). */
const maskPool = Buffer.allocUnsafe(8192);
let maskOffset = maskPool.length;

/**
 * One frame (FIN set): header, the mask key if `masked`, then `length` payload bytes that `fill`
 * writes, masked in place. The payload is placed at a 4-byte-aligned address so that most of it is
 * masked a 32-bit word at a time.
 */
function frame(opcode: number, length: number, fill: (buffer: Buffer, offset: number) => void, masked: boolean): Buffer {
  const header = (length <= 125 ? 2 : length <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
  const allocation = Buffer.allocUnsafe(header + length + 3);
  const pad = (4 - ((allocation.byteOffset + header) & 3)) & 3;
  const buffer = allocation.subarray(pad, pad + header + length);
  buffer[0] = 0x80 | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (length <= 125) buffer[1] = maskBit | length;
  else if (length <= 0xffff) {
    buffer[1] = maskBit | 126;
    buffer.writeUInt16BE(length, 2);
  } else {
    buffer[1] = maskBit | 127;
    buffer.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    buffer.writeUInt32BE(length >>> 0, 6);
  }
  fill(buffer, header);
  if (masked) {
    if (maskOffset + 4 > maskPool.length) {
      randomFillSync(maskPool);
      maskOffset = 0;
    }
    const key = buffer.subarray(header - 4, header);
    maskPool.copy(key, 0, maskOffset, maskOffset + 4);
    maskOffset += 4;
    mask(buffer.subarray(header), key);
  }
  return buffer;
}

const keyWord = new Uint32Array(1);
const keyWordBytes = new Uint8Array(keyWord.buffer);

/** XORs `data` in place with the 4-byte `key` (masking and unmasking are the same), a word at a time where aligned. */
function mask(data: Buffer, key: Buffer): void {
  const length = data.length;
  // Bytes up to the first 4-byte-aligned address, one at a time.
  const lead = Math.min(length, (4 - (data.byteOffset & 3)) & 3);
  for (let i = 0; i < lead; i++) data[i] = data[i]! ^ key[i & 3]!;
  const words = (length - lead) >>> 2;
  if (words > 0) {
    // The key as it lines up from `lead` on, as one word in memory order.
    for (let j = 0; j < 4; j++) keyWordBytes[j] = key[(lead + j) & 3]!;
    const word = keyWord[0]!;
    const view = new Uint32Array(data.buffer, data.byteOffset + lead, words);
    for (let i = 0; i < words; i++) view[i] = view[i]! ^ word;
  }
  for (let i = lead + (words << 2); i < length; i++) data[i] = data[i]! ^ key[i & 3]!;
}
