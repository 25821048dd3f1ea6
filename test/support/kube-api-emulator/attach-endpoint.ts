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
import { WebSocketConnection, acceptValue } from '../../../proxy/src/backends/attach/websocket.ts';
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
  private readonly sessions = new Set<AttachSession>();
  private readonly options: AttachEndpointOptions;
  /** Upgrades per subprotocol, for tests that check what was negotiated. */
  readonly negotiated: ChannelProtocol[] = [];

  constructor(options: AttachEndpointOptions) {
    this.options = options;
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
   *
   * The server side of the WebSocket is the same RFC 6455 code the proxy's client runs, in the
   * server role (no extensions; a message of 32 MiB or more ends the connection with 1009, as on
   * the apiserver, ATTACH.md). Tests hold it to `ws`, an independent implementation, both ways:
   * test/attach/emulator.test.ts attaches with `ws`'s client, test/attach/websocket.test.ts runs
   * the client against `ws`'s server.
   */
  upgrade(
    request: IncomingMessage, socket: Duplex, head: Buffer, protocol: ChannelProtocol,
    pod: EmulatedPod, container: string, process: ContainerProcess | undefined, stdin: boolean,
  ): void {
    const key = request.headers['sec-websocket-key'];
    const valid = request.method === 'GET' && String(request.headers.upgrade).toLowerCase() === 'websocket' &&
      request.headers['sec-websocket-version'] === '13' && typeof key === 'string' && Buffer.from(key, 'base64').length === 16;
    if (!valid) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptValue(key)}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    );
    this.negotiated.push(protocol);
    const session = new Session(socket, head, protocol, pod, process, stdin, this.options, () => this.sessions.delete(session));
    if (!process) {
      session.endWith(failureStatus(500, 'InternalError', `container ${container} not found`));
      return;
    }
    this.sessions.add(session);
  }

  closeAll(): void {
    for (const session of this.sessions) session.drop();
  }
}

/** One attach session: the WebSocket (server role) wired to the container's stdio. */
class Session implements AttachSession {
  readonly protocol: ChannelProtocol;
  readonly pod: string;
  readonly containerID: string;
  private readonly ws: WebSocketConnection;
  private readonly socket: Duplex;
  private stalled = false;
  private paused = false;
  private lastActivity = Date.now();

  constructor(
    socket: Duplex, head: Buffer, protocol: ChannelProtocol, pod: EmulatedPod, process: ContainerProcess | undefined,
    stdin: boolean, options: AttachEndpointOptions, ended: () => void,
  ) {
    this.socket = socket;
    this.protocol = protocol;
    this.pod = pod.spec.name;
    this.containerID = process?.containerID ?? '';
    const idleMs = protocol === 'v4.channel.k8s.io' ? options.v4IdleTimeoutMs : 0;
    const detach = process?.attach({
      stdout: (frame) => this.send(STDOUT, frame, idleMs > 0),
      stderr: (frame) => this.send(STDERR, frame, idleMs > 0),
      exited: () => {
        if (this.stalled) return;
        // A process that died with its stdin full never drains it: read again, for the close handshake.
        socket.resume();
        this.endWith(successStatus());
      },
    });
    const idleTimer = idleMs > 0
      ? setInterval(() => { if (Date.now() - this.lastActivity >= idleMs) this.drop(); }, Math.max(10, idleMs / 4))
      : undefined;
    this.ws = new WebSocketConnection(socket, head, protocol, {
      message: (data, binary) => {
        if (!binary || data.length === 0 || this.stalled || !process) return;
        const channel = data[0];
        if (channel === STDIN && stdin) {
          if (idleMs > 0) this.lastActivity = Date.now();
          if (!process.writeStdin(data.subarray(1)) && !this.paused) {
            // The process is not reading: read no more from the client until it has (TCP backpressure).
            this.paused = true;
            socket.pause();
            process.stdinDrained(() => {
              this.paused = false;
              if (!this.stalled) socket.resume();
            });
          }
        } else if (channel === CLOSE && protocol === 'v5.channel.k8s.io' && data[1] === STDIN) {
          // stdinOnce: false: closing stdin ends the whole attach session, and stdin gets nothing.
          this.endWith(successStatus());
        }
      },
      pong: () => {},
      closed: () => {
        detach?.();
        if (idleTimer) clearInterval(idleTimer);
        ended();
      },
    }, 'server');
  }

  drop(): void {
    this.ws.terminate();
  }

  /** Reading stops too, so not even WebSocket pings are answered. */
  stall(): void {
    this.stalled = true;
    this.socket.pause();
  }

  close(): void {
    if (!this.stalled) this.socket.resume();
    this.endWith(successStatus());
  }

  /** Stdout or stderr, one message per frame the container's output came in. */
  private send(channel: number, frame: Buffer, countsAsActivity: boolean): void {
    if (countsAsActivity) this.lastActivity = Date.now();
    if (!this.stalled) this.ws.sendBinary(frame.length + 1, (buffer, offset) => {
      buffer[offset] = channel;
      frame.copy(buffer, offset + 1);
    });
  }

  endWith(status: KubeStatus): void {
    if (!this.ws.isOpen) return;
    // The kubelet and the API server write the status channel with json.Marshal(status.Status()):
    // no kind or apiVersion (`{"metadata":{},"status":"Success"}`), unlike an HTTP error body.
    const { kind: _kind, apiVersion: _apiVersion, ...onTheWire } = status;
    const json = Buffer.from(JSON.stringify(onTheWire));
    this.ws.sendBinary(json.length + 1, (buffer, offset) => {
      buffer[offset] = STATUS;
      json.copy(buffer, offset + 1);
    });
    this.ws.close(1000);
  }
}
