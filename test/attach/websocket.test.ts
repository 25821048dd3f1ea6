/**
 * The attach backend's WebSocket client (proxy/src/backends/attach/websocket.ts) against `ws`, an
 * independent implementation of RFC 6455, and against a raw TCP server for what a correct server
 * never sends: if the two disagreed on framing, masking or the close handshake, these fail.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import {
  CLOSE_ABNORMAL, CLOSE_TIMEOUT_MS, MAX_MESSAGE_BYTES, SubprotocolError, UpgradeRefusedError, WebSocketConnection, acceptValue, openWebSocket,
  type WebSocketHandlers,
} from '../../proxy/src/backends/attach/websocket.ts';
import { waitFor } from '../support/proxy-harness.ts';

const PROTOCOL = 'v4.channel.k8s.io';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A `ws` server on a free port; `onConnection` gets each server-side socket. */
async function wsServer(
  onConnection: (ws: WebSocket) => void,
  options: { handleProtocols?: (protocols: Set<string>) => string | false } = {},
): Promise<string> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, ...options });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', onConnection);
  cleanups.push(() => new Promise((resolve) => {
    for (const client of server.clients) client.terminate();
    server.close(resolve);
  }));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/attach?x=1`;
}

/** What the client's handlers saw. */
interface Seen {
  readonly messages: { data: Buffer; binary: boolean }[];
  pongs: number;
  closed?: { code: number; error?: Error };
}

function recorder(): { seen: Seen; handlers: WebSocketHandlers } {
  const seen: Seen = { messages: [], pongs: 0 };
  return {
    seen,
    handlers: {
      message: (data, binary) => seen.messages.push({ data: Buffer.from(data), binary }),
      pong: () => { seen.pongs += 1; },
      closed: (code, error) => { seen.closed = { code, ...(error ? { error } : {}) }; },
    },
  };
}

async function connect(url: string, timeoutMs = 5000, closeTimeoutMs?: number): Promise<{ ws: WebSocketConnection; seen: Seen }> {
  const { seen, handlers } = recorder();
  const ws = await openWebSocket({ url, protocol: PROTOCOL, timeoutMs, ...(closeTimeoutMs ? { closeTimeoutMs } : {}) }, handlers);
  cleanups.push(() => ws.terminate());
  return { ws, seen };
}

const sendBuffer = (ws: WebSocketConnection, data: Buffer): boolean =>
  ws.sendBinary(data.length, (buffer, offset) => data.copy(buffer, offset));

/**
 * A TCP server that completes the opening handshake correctly (or as `answer` says), then hands the
 * socket to the test to write raw frames.
 */
async function rawServer(
  onUpgraded: (socket: net.Socket) => void,
  answer: (key: string) => string = (key) => [
    'HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')}`,
    `Sec-WebSocket-Protocol: ${PROTOCOL}`, '', '',
  ].join('\r\n'),
): Promise<{ url: string; received: Buffer[] }> {
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let request = '';
    let upgraded = false;
    socket.on('data', (chunk) => {
      if (upgraded) {
        received.push(chunk);
        return;
      }
      request += chunk.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      upgraded = true;
      const key = /sec-websocket-key: *(\S+)/i.exec(request)![1]!;
      socket.write(answer(key));
      onUpgraded(socket);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(resolve);
  }));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, received };
}

/** An unmasked server frame. */
function serverFrame(firstByte: number, payload: Buffer, lengthOverride?: Buffer): Buffer {
  const length = lengthOverride ?? (payload.length <= 125 ? Buffer.of(payload.length)
    : payload.length <= 0xffff ? Buffer.concat([Buffer.of(126), Buffer.from([payload.length >> 8, payload.length & 0xff])])
    : Buffer.concat([Buffer.of(127), Buffer.from([0, 0, 0, 0]), (() => { const b = Buffer.alloc(4); b.writeUInt32BE(payload.length); return b; })()]));
  return Buffer.concat([Buffer.of(firstByte), length, payload]);
}

/**
 * An HTTP server whose upgrades get the server role of our WebSocket code (as the API emulator
 * does), echoing every message; `seen` records what its handlers saw.
 */
async function ourServer(): Promise<{ url: string; seen: Seen }> {
  const { seen, handlers } = recorder();
  const sockets = new Set<import('node:stream').Duplex>();
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => {
    sockets.add(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptValue(String(req.headers['sec-websocket-key']))}\r\nSec-WebSocket-Protocol: ${PROTOCOL}\r\n\r\n`);
    const connection: WebSocketConnection = new WebSocketConnection(socket, head, PROTOCOL, {
      ...handlers,
      message: (data, binary) => {
        handlers.message(data, binary);
        connection.sendBinary(data.length, (buffer, offset) => data.copy(buffer, offset));
      },
    }, 'server');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(resolve);
  }));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}

/** `bytes` XORed with the 4-byte mask `key` (masking and unmasking alike), as a new buffer. */
const xorMask = (bytes: Buffer, key: Buffer): Buffer => Buffer.from(bytes.map((b, i) => b ^ key[i % 4]!));

/** A masked client frame (FIN as in `firstByte`, payload up to 65,535 bytes), for writing below `ws`'s API. */
function clientFrame(firstByte: number, payload: Buffer): Buffer {
  const key = randomBytes(4);
  const length = payload.length <= 125 ? Buffer.of(0x80 | payload.length) : Buffer.of(0x80 | 126, payload.length >> 8, payload.length & 0xff);
  return Buffer.concat([Buffer.of(firstByte), length, key, xorMask(payload, key)]);
}

/** A raw TCP client that has completed the opening handshake with `url`. */
async function rawClient(url: string): Promise<{ socket: net.Socket }> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  cleanups.push(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Protocol: ${PROTOCOL}\r\n\r\n`);
  let answer = '';
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      answer += chunk.toString('latin1');
      if (!answer.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  });
  expect(answer).toMatch(/^HTTP\/1.1 101/);
  return { socket };
}

/** The close code in the first close frame among client frames (masked, so unmask it). */
function clientCloseCode(bytes: Buffer): number | undefined {
  for (let offset = 0; offset + 6 <= bytes.length;) {
    const opcode = bytes[offset]! & 0x0f;
    const length = bytes[offset + 1]! & 0x7f;
    if (length > 125) return undefined;
    const mask = bytes.subarray(offset + 2, offset + 6);
    const payload = xorMask(bytes.subarray(offset + 6, offset + 6 + length), mask);
    if (opcode === 0x8) return payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
    offset += 6 + length;
  }
  return undefined;
}

describe('attach WebSocket client', () => {
  test('binary messages of every length encoding go both ways intact, masked as ws requires', async () => {
    const url = await wsServer((ws) => ws.on('message', (data: Buffer, binary) => ws.send(data, { binary })));
    const { ws, seen } = await connect(url);
    expect(ws.protocol).toBe(PROTOCOL);
    const sizes = [0, 1, 3, 4, 5, 125, 126, 127, 65_535, 65_536, 300_001];
    const sent = sizes.map((size) => randomBytes(size));
    for (const data of sent) expect(sendBuffer(ws, data)).toBe(true);
    await waitFor(() => seen.messages.length === sizes.length, 10_000, 'every echo');
    seen.messages.forEach((message, i) => {
      expect(message.binary).toBe(true);
      expect(message.data.equals(sent[i]!)).toBe(true);
    });
    expect(seen.closed).toBeUndefined();
  });

  test('in the server role (the API emulator\'s) it takes ws\'s masked frames and answers with unmasked ones', async () => {
    const { url, seen } = await ourServer();
    const client = new WebSocket(url, [PROTOCOL]);
    const echoes: Buffer[] = [];
    client.on('message', (data: Buffer) => echoes.push(data));
    const closed = new Promise<number>((resolve) => client.on('close', resolve));
    await new Promise((resolve, reject) => client.on('open', resolve).on('error', reject));
    const sent = [0, 1, 125, 126, 65_535, 65_536, 300_001].map((size) => randomBytes(size));
    for (const data of sent) client.send(data, { binary: true });
    client.send(Buffer.from('two '), { binary: true, fin: false });
    client.send(Buffer.from('fragments'), { binary: true, fin: true });
    let pong = '';
    client.on('pong', (data) => { pong = data.toString(); });
    client.ping(Buffer.from('are you there'));
    await waitFor(() => echoes.length === sent.length + 1 && pong !== '', 10_000, 'every echo and the pong');
    sent.forEach((data, i) => expect(echoes[i]!.equals(data)).toBe(true));
    expect(echoes[sent.length]!.toString()).toBe('two fragments');
    expect(pong).toBe('are you there');
    client.close(4002);
    expect(await closed).toBe(4002);
    await waitFor(() => seen.closed !== undefined, 5000, 'the server side closed');
    expect(seen.closed).toEqual({ code: 4002 });
  });

  test('in the server role an unmasked frame fails the connection with close 1002', async () => {
    const { url, seen } = await ourServer();
    const client = new WebSocket(url, [PROTOCOL]);
    const closed = new Promise<number>((resolve) => client.on('close', resolve));
    await new Promise((resolve, reject) => client.on('open', resolve).on('error', reject));
    // Below ws's API: a raw unmasked binary frame on its socket.
    (client as unknown as { _socket: net.Socket })._socket.write(Buffer.of(0x82, 0x01, 0x41));
    expect(await closed).toBe(1002);
    await waitFor(() => seen.closed !== undefined, 5000, 'the server side closed');
    expect(seen.closed?.code).toBe(1002);
    expect(seen.closed?.error?.message).toMatch(/not masked/);
    expect(seen.messages).toEqual([]);
  });

  test('in the server role a text message that is not UTF-8 fails the connection with close 1007', async () => {
    const { url, seen } = await ourServer();
    const client = new WebSocket(url, [PROTOCOL]);
    const closed = new Promise<number>((resolve) => client.on('close', resolve));
    await new Promise((resolve, reject) => client.on('open', resolve).on('error', reject));
    // ws does not check what it sends: a text frame whose bytes are not UTF-8.
    client.send(Buffer.of(0x41, 0xff), { binary: false });
    expect(await closed).toBe(1007);
    await waitFor(() => seen.closed !== undefined, 5000, 'the server side closed');
    expect(seen.closed?.error?.message).toMatch(/not UTF-8/);
    expect(seen.messages).toEqual([]);
  });

  test('in the server role it unmasks payloads at every alignment within one TCP chunk', async () => {
    const { url, seen } = await ourServer();
    const raw = await rawClient(url);
    // Frames of 6 + n bytes back to back in one write: their payloads start at every offset mod 4,
    // and the lengths cover the lead bytes, whole words and the tail of the unmasking.
    const payloads = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 64, 130, 1000].map((n) => randomBytes(n));
    raw.socket.write(Buffer.concat(payloads.map((p) => clientFrame(0x82, p))));
    await waitFor(() => seen.messages.length === payloads.length, 5000, 'every message');
    seen.messages.forEach((message, i) => expect(message.data.equals(payloads[i]!)).toBe(true));
  });

  test('nothing after a close frame is delivered', async () => {
    const raw = await rawServer((socket) => socket.write(Buffer.concat([
      serverFrame(0x88, Buffer.of(0x03, 0xe8)), serverFrame(0x82, Buffer.from('too late')),
    ])));
    const { seen } = await connect(raw.url);
    await waitFor(() => seen.closed !== undefined, 5000, 'the close');
    expect(seen.closed).toEqual({ code: 1000 });
    expect(seen.messages).toEqual([]);
    expect(clientCloseCode(Buffer.concat(raw.received))).toBe(1000);
  });

  test('a fragmented message whose fragments together pass the size limit fails with 1009', async () => {
    const half = Math.ceil(MAX_MESSAGE_BYTES / 2);
    const raw = await rawServer((socket) => {
      socket.write(serverFrame(0x02, Buffer.alloc(half)));
      socket.write(serverFrame(0x80, Buffer.alloc(0), Buffer.from([127, 0, 0, 0, 0, (half >>> 24) & 0xff, (half >>> 16) & 0xff, (half >>> 8) & 0xff, half & 0xff])));
    });
    const { seen } = await connect(raw.url);
    await waitFor(() => seen.closed !== undefined, 10_000, 'the close');
    expect(seen.closed?.code).toBe(1009);
    expect(seen.messages).toEqual([]);
  });

  test('reassembles a fragmented message, answers pings, and reports pongs', async () => {
    let server: WebSocket | undefined;
    const pongs: string[] = [];
    const url = await wsServer((ws) => {
      server = ws;
      ws.on('pong', (data) => pongs.push(data.toString()));
    });
    const { ws, seen } = await connect(url);
    await waitFor(() => server !== undefined, 2000, 'the server side');
    server!.send(Buffer.from('first '), { binary: true, fin: false });
    server!.ping(Buffer.from('between fragments'));
    server!.send(Buffer.from('second '), { binary: true, fin: false });
    server!.send(Buffer.from('last'), { binary: true, fin: true });
    server!.send('a text message');
    // A text message whose fragments split a character: UTF-8 is judged on the whole message.
    const euro = Buffer.from('costs 5 €');
    server!.send(euro.subarray(0, euro.length - 1), { binary: false, fin: false });
    server!.send(euro.subarray(euro.length - 1), { binary: false, fin: true });
    await waitFor(() => seen.messages.length === 3 && pongs.length === 1, 5000, 'the messages and the pong');
    expect(seen.messages[0]).toEqual({ data: Buffer.from('first second last'), binary: true });
    expect(seen.messages[1]).toEqual({ data: Buffer.from('a text message'), binary: false });
    expect(seen.messages[2]).toEqual({ data: euro, binary: false });
    expect(pongs).toEqual(['between fragments']);
    ws.ping();
    await waitFor(() => seen.pongs === 1, 2000, 'the pong to our ping');
  });

  test('a close from the server is echoed and reported with its code', async () => {
    let serverClose: number | undefined;
    const url = await wsServer((ws) => {
      ws.on('close', (code) => { serverClose = code; });
      ws.close(4001, 'bye');
    });
    const { seen } = await connect(url);
    await waitFor(() => seen.closed !== undefined && serverClose !== undefined, 5000, 'both sides closed');
    expect(seen.closed).toEqual({ code: 4001 });
    expect(serverClose).toBe(4001);
  });

  test('close() completes the handshake; a dropped connection reports 1006', async () => {
    let serverClose: number | undefined;
    const servers: WebSocket[] = [];
    const url = await wsServer((ws) => {
      servers.push(ws);
      ws.on('close', (code) => { serverClose ??= code; });
    });
    const first = await connect(url);
    first.ws.close(1000);
    expect(first.ws.isOpen).toBe(false);
    expect(sendBuffer(first.ws, Buffer.from('too late'))).toBe(false);
    await waitFor(() => first.seen.closed !== undefined, 5000, 'the close');
    expect(first.seen.closed).toEqual({ code: 1000 });
    expect(serverClose).toBe(1000);

    const second = await connect(url);
    await waitFor(() => servers.length === 2, 2000, 'the second server side');
    servers[1]!.terminate();
    await waitFor(() => second.seen.closed !== undefined, 5000, 'the drop');
    expect(second.seen.closed?.code).toBe(CLOSE_ABNORMAL);
  });

  test('a close the server never completes is dropped after the close timeout', async () => {
    // Completes the opening handshake, then neither answers the close nor ends the connection.
    const raw = await rawServer(() => {});
    const { ws, seen } = await connect(raw.url, 5000, 400);
    // Without the option, the default (30 s) applies: still waiting well after 400 ms.
    const patient = await connect(raw.url);
    const started = Date.now();
    ws.close(1000);
    patient.ws.close(1000);
    await waitFor(() => clientCloseCode(Buffer.concat(raw.received)) === 1000, 2000, 'the close frame');
    await waitFor(() => seen.closed !== undefined, 5000, 'the drop');
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(seen.closed).toEqual({ code: CLOSE_ABNORMAL });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(patient.seen.closed).toBeUndefined();
    expect(CLOSE_TIMEOUT_MS).toBe(30_000);
  });

  test('a refused upgrade gives its status and body', async () => {
    const body = JSON.stringify({ kind: 'Status', status: 'Failure', message: 'pods "p" is forbidden', code: 403 });
    const server = http.createServer((_req, res) => res.writeHead(403, { 'Content-Type': 'application/json' }).end(body));
    server.on('upgrade', (_req, socket) => {
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const error = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpgradeRefusedError);
    expect(error).toMatchObject({ statusCode: 403, body });
  });

  test('a server that ignores the subprotocol, or answers the handshake wrongly, is refused', async () => {
    const ignoring = await wsServer(() => {}, { handleProtocols: () => false });
    await expect(connect(ignoring)).rejects.toBeInstanceOf(SubprotocolError);

    const other = await wsServer(() => {}, { handleProtocols: () => 'v5.channel.k8s.io' });
    await expect(connect(other)).rejects.toThrow(/chose subprotocol "v5.channel.k8s.io"/);

    const wrongAccept = await rawServer(() => {}, () =>
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\nSec-WebSocket-Protocol: ${PROTOCOL}\r\n\r\n`);
    await expect(connect(wrongAccept.url)).rejects.toThrow(/wrong Sec-WebSocket-Accept/);
  });

  test('a server that never answers the upgrade times out', async () => {
    const silent = net.createServer(() => {});
    const sockets: net.Socket[] = [];
    silent.on('connection', (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      silent.close(resolve);
    }));
    await expect(connect(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}/`, 300)).rejects.toThrow(/timed out after 300 ms/);
  });

  test('frames split across many TCP segments, byte by byte, are put back together', async () => {
    const payload = randomBytes(70_000);
    const bytes = Buffer.concat([
      serverFrame(0x82, payload),
      serverFrame(0x89, Buffer.from('ping!')),
      serverFrame(0x82, Buffer.from('after the ping')),
    ]);
    const raw = await rawServer((socket) => {
      // The first 300 bytes one at a time, the rest in 1000-byte pieces, each its own write.
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += i < 300 ? 1 : 1000) pieces.push(bytes.subarray(i, i < 300 ? i + 1 : i + 1000));
      const next = (): void => {
        const piece = pieces.shift();
        if (piece && !socket.destroyed) socket.write(piece, () => setImmediate(next));
      };
      next();
    });
    const { seen } = await connect(raw.url);
    await waitFor(() => seen.messages.length === 2, 20_000, 'both messages');
    expect(seen.messages[0]!.data.equals(payload)).toBe(true);
    expect(seen.messages[1]!.data.toString()).toBe('after the ping');
    // The pong: opcode 0xA, masked, carrying "ping!" (5 bytes).
    const fromClient = Buffer.concat(raw.received);
    expect(fromClient[0]).toBe(0x8a);
    expect(fromClient[1]).toBe(0x80 | 5);
    const mask = fromClient.subarray(2, 6);
    expect(xorMask(fromClient.subarray(6, 11), mask).toString()).toBe('ping!');
  });

  test.each([
    { name: 'a masked frame', frame: Buffer.of(0x82, 0x81, 1, 2, 3, 4, 5), code: 1002, message: /masked/ },
    { name: 'reserved bits', frame: Buffer.of(0xc2, 0x01, 0x00), code: 1002, message: /reserved bits/ },
    { name: 'a fragmented ping', frame: Buffer.of(0x09, 0x00), code: 1002, message: /control frame/ },
    { name: 'a 126-byte ping', frame: serverFrame(0x89, Buffer.alloc(126)), code: 1002, message: /control frame/ },
    { name: 'a continuation outside a message', frame: Buffer.of(0x80, 0x01, 0x41), code: 1002, message: /continuation/ },
    { name: 'a new message inside a fragmented one', frame: Buffer.of(0x02, 0x01, 0x41, 0x82, 0x01, 0x42), code: 1002, message: /inside a fragmented/ },
    { name: 'an unknown opcode', frame: Buffer.of(0x83, 0x00), code: 1002, message: /opcode 3/ },
    { name: 'a close code that may not be sent', frame: serverFrame(0x88, Buffer.of(0x03, 0xed)), code: 1002, message: /close code 1005/ },
    { name: 'a text message that is not UTF-8', frame: serverFrame(0x81, Buffer.of(0x41, 0xc3, 0x28)), code: 1007, message: /text message that is not UTF-8/ },
    { name: 'a fragmented text message that is not UTF-8', frame: Buffer.concat([serverFrame(0x01, Buffer.of(0xe2, 0x82)), serverFrame(0x80, Buffer.of(0x28))]), code: 1007, message: /text message that is not UTF-8/ },
    { name: 'a close reason that is not UTF-8', frame: serverFrame(0x88, Buffer.of(0x03, 0xe8, 0xff)), code: 1007, message: /close reason/ },
    { name: 'a message over the size limit', frame: serverFrame(0x82, Buffer.alloc(0), Buffer.from([127, 0, 0, 0, 0, 0x02, 0, 0, 0])), code: 1009, message: /more than/ },
  ])('$name fails the connection with close $code', async ({ frame, code, message }) => {
    const raw = await rawServer((socket) => socket.write(frame));
    const { seen } = await connect(raw.url);
    await waitFor(() => clientCloseCode(Buffer.concat(raw.received)) !== undefined, 5000, 'the client\'s close frame');
    expect(clientCloseCode(Buffer.concat(raw.received))).toBe(code);
    // The client ends its side; the server's socket ends too, which completes the close.
    await waitFor(() => seen.closed !== undefined, 5000, 'the close');
    expect(seen.closed?.code).toBe(code);
    expect(seen.closed?.error?.message).toMatch(message);
    expect(seen.messages).toEqual([]);
  });
});
