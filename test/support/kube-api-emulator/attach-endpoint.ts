/**
 * `GET /api/v1/namespaces/{ns}/pods/{pod}/attach` upgraded to a WebSocket with the
 * `v5.channel.k8s.io` or `v4.channel.k8s.io` subprotocol, as the apiserver serves it:
 * every binary message starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 status with a
 * `metav1.Status` JSON, 4 resize); v5 adds the close-stream message `[255, channel]`.
 *
 * Behaviours reproduced from a real cluster (shared/docs/ATTACH.md):
 * - the process's death ends the session with status Success and close 1000 (like a normal close);
 * - attaching to a container whose process is gone: v5 upgrades, then sends an in-band Failure 500
 *   "container <c> not found"; v4 gets HTTP 500 before any upgrade;
 * - v5 `[255, 0]` (close stdin) ends the whole session when stdinOnce is false, and stdin gets
 *   nothing (no EOF);
 * - a dropped or closed attach sends nothing to stdin;
 * - a process that does not read its stdin stops the session's reading once its pipe is full, so
 *   the attacher's writes back up (the kubelet's copy into stdin blocks);
 * - optionally, the kubelet's streaming idle timeout closes idle v4 sessions abruptly (1006);
 *   WebSocket pings do not count as activity.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ContainerProcess } from './container.ts';
import type { EmulatedPod } from './kubelet.ts';
import { failureStatus, successStatus, type KubeStatus } from './status.ts';

export type ChannelProtocol = 'v5.channel.k8s.io' | 'v4.channel.k8s.io';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const CLOSE = 255;

export interface AttachSession {
  readonly protocol: ChannelProtocol;
  readonly pod: string;
  readonly containerID: string;
  /** Drops the TCP connection without a close frame (a network failure, a restarted apiserver). */
  drop(): void;
  /**
   * Half-open connection: from now on nothing passes in either direction and no close is sent
   * (a NAT or load balancer that forgot the flow). Only a liveness probe can notice.
   */
  stall(): void;
  /** Ends the session the way the apiserver ends any: status Success, close 1000; the process lives. */
  close(): void;
}

export interface AttachEndpointOptions {
  /** Subprotocols the server accepts, in its order of preference among those the client offers. */
  protocols(): readonly ChannelProtocol[];
  /** Kubelet streaming idle timeout for v4 sessions; 0 disables. */
  readonly v4IdleTimeoutMs: number;
}

export class AttachEndpoint {
  private readonly server: WebSocketServer;
  private readonly sessions = new Set<AttachSession>();
  private readonly options: AttachEndpointOptions;
  /** Upgrades per subprotocol, for tests that check what was negotiated. */
  readonly negotiated: ChannelProtocol[] = [];

  constructor(options: AttachEndpointOptions) {
    this.options = options;
    this.server = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // ATTACH.md: one message of 32 MiB or more ends the connection.
      maxPayload: 32 * 1024 * 1024 - 1,
    });
  }

  get open(): readonly AttachSession[] {
    return [...this.sessions];
  }

  /** Picks the subprotocol like the apiserver: the first one the client offers that it supports. */
  chooseProtocol(request: IncomingMessage): ChannelProtocol | undefined {
    const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const supported = this.options.protocols();
    return offered.find((p): p is ChannelProtocol => (supported as readonly string[]).includes(p));
  }

  /**
   * Upgrades and wires the session. `process` undefined means the container is gone: only v5 can
   * get here (v4 was answered with HTTP 500 by the caller), and it gets the in-band Failure.
   */
  upgrade(
    request: IncomingMessage, socket: Duplex, head: Buffer, protocol: ChannelProtocol,
    pod: EmulatedPod, container: string, process: ContainerProcess | undefined, stdin: boolean,
  ): void {
    this.server.handleUpgrade(request, socket, head, (ws) => {
      if (ws.protocol !== protocol) throw new Error(`negotiated ${ws.protocol}, expected ${protocol}`);
      this.negotiated.push(protocol);
      if (!process) {
        this.endWith(ws, failureStatus(500, 'InternalError', `container ${container} not found`));
        return;
      }
      this.serve(ws, socket, protocol, pod, process, stdin);
    });
  }

  closeAll(): void {
    for (const session of this.sessions) session.drop();
    this.server.close();
  }

  private serve(ws: WebSocket, socket: Duplex, protocol: ChannelProtocol, pod: EmulatedPod, process: ContainerProcess, stdin: boolean): void {
    const idleMs = protocol === 'v4.channel.k8s.io' ? this.options.v4IdleTimeoutMs : 0;
    let lastActivity = Date.now();
    let stalled = false;
    let paused = false;
    const send = (channel: number, frame: Buffer): void => {
      if (idleMs > 0) lastActivity = Date.now();
      if (ws.readyState === ws.OPEN && !stalled) socket.write(binaryFrame(channel, frame));
    };
    const detach = process.attach({
      stdout: (frame) => send(STDOUT, frame),
      stderr: (frame) => send(STDERR, frame),
      exited: () => {
        if (stalled) return;
        // A process that died with its stdin full never drains it: read again, for the close handshake.
        ws.resume();
        this.endWith(ws, successStatus());
      },
    });
    const session: AttachSession = {
      protocol, pod: pod.spec.name, containerID: process.containerID,
      drop: () => ws.terminate(),
      // Reading stops too, so not even WebSocket pings are answered.
      stall: () => { stalled = true; socket.pause(); },
      close: () => {
        if (!stalled) ws.resume();
        this.endWith(ws, successStatus());
      },
    };
    this.sessions.add(session);
    const idleTimer = idleMs > 0
      ? setInterval(() => { if (Date.now() - lastActivity >= idleMs) ws.terminate(); }, Math.max(10, idleMs / 4))
      : undefined;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0 || stalled) return;
      const channel = data[0];
      if (channel === STDIN && stdin) {
        if (idleMs > 0) lastActivity = Date.now();
        if (!process.writeStdin(data.subarray(1)) && !paused) {
          // The process is not reading: read no more from the client until it has (TCP backpressure).
          paused = true;
          ws.pause();
          process.stdinDrained(() => {
            paused = false;
            if (!stalled) ws.resume();
          });
        }
      } else if (channel === CLOSE && protocol === 'v5.channel.k8s.io' && data[1] === STDIN) {
        // stdinOnce: false: closing stdin ends the whole attach session, and stdin sees no EOF.
        this.endWith(ws, successStatus());
      }
    });
    ws.on('close', () => {
      detach();
      if (idleTimer) clearInterval(idleTimer);
      this.sessions.delete(session);
    });
    ws.on('error', () => {});
  }

  private endWith(ws: WebSocket, status: KubeStatus): void {
    if (ws.readyState !== ws.OPEN) return;
    // The kubelet and the API server write the status channel with json.Marshal(status.Status()):
    // no kind or apiVersion (`{"metadata":{},"status":"Success"}`), unlike an HTTP error body.
    const { kind: _kind, apiVersion: _apiVersion, ...onTheWire } = status;
    ws.send(Buffer.concat([Buffer.of(STATUS), Buffer.from(JSON.stringify(onTheWire))]));
    ws.close(1000);
  }
}

/**
 * One unmasked, unfragmented binary WebSocket message (RFC 6455 §5.2) carrying `channel` then
 * `payload`: the exact bytes `ws.send(Buffer.concat([Buffer.of(channel), payload]))` puts on the
 * wire, built in one buffer and written with one `socket.write`. The emulator sits in the
 * benchmark's data path and shares the CPUs with the proxy it serves: this skips ws's per-send
 * work (the concat copy, a separate header buffer, cork/uncork and a two-buffer writev) for every
 * stdout frame. Writing to the socket directly keeps ws's framing order: with permessage-deflate
 * off (see the constructor) and no Blob sends, ws's own writes (status frames, close, pongs) go
 * out synchronously too, and stdout frames are only written while the socket is OPEN.
 */
function binaryFrame(channel: number, payload: Buffer): Buffer {
  const length = payload.length + 1;
  // Stdout frames are at most STDOUT_FRAME_BYTES (32 KiB), but stay correct for any length.
  const header = length <= 125 ? 2 : length <= 0xffff ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x82; // FIN + binary opcode
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame[header] = channel;
  payload.copy(frame, header + 1);
  return frame;
}
