/**
 * The attach backend's lifecycle, as an explicit state machine (every transition is logged):
 *
 *   idle → waiting-for-pod → attaching → ready → lost → backing-off → waiting-for-pod → ...
 *                 ↑               └─(refused)─→ backing-off ─┘
 *                 └──────── lost (the pod says the process changed, or may have) ───┘
 *
 * - waiting-for-pod: attach only once the pod's container runs (decided from the pod watch).
 * - attaching: one WebSocket attach in flight (over v5 to a process the pod never confirmed alive,
 *   held for V5_SETTLE_MS first: v5 upgrades before a dead container's Failure arrives).
 * - ready: `up` was reported; the multiplexer runs the MCP handshake when `newProcess` is true.
 * - lost: the connection ended; `down` is reported once, with the cause.
 * - backing-off: capped exponential backoff with jitter before the next attempt.
 *
 * Liveness comes from the pod, not from the close: a dead process and a normal close look the
 * same on the wire (status Success, close 1000; ATTACH.md). After such a close the backend waits
 * for the pod to show the process changed, or for `exitConfirmMs` with the same process still
 * running, and only then re-attaches; `newProcess` is true for a process (pod uid + containerID
 * + restartCount) whose MCP handshake has not succeeded yet (`handshakeDone`), so a live process
 * is never initialized twice once it has answered `initialize`. A connection lost during the
 * handshake leaves it unknown whether `initialize` reached the process; the next attach runs the
 * handshake again.
 *
 * The watch can lag behind the pod, so every attach also reads the pod as it is now and goes by
 * that: a container that restarted while the watch lagged is a new process, not an initialized one.
 * For the same reason the watch's old news causes no second loss, attached or not: a replaced pod
 * and a lower restartCount are ignored, and until the watch shows the process a read found, a
 * fresh read stands in for each of its events.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { StringDecoder } from 'node:string_decoder';
import type { ResolvedBackoff } from '../../config-validate.ts';
import type { Logger } from '../../log.ts';
import type { BackendStatus, Clock, StreamBackend } from '../types.ts';
import { AttachConnection, AttachOpenError, type AttachEnd, type ChannelProtocol } from './attach-connection.ts';
import { Backoff } from '../backoff.ts';
import { LineSplitter } from '../line-splitter.ts';
import { IdleProbe } from './idle-probe.ts';
import {
  describeNotRunning, describeProcessChange, processIdentity, sameProcess, type PodView, type ProcessIdentity,
} from './pod-view.ts';
import { PodWatch, selectPod } from './pod-watch.ts';

export type AttachState = 'idle' | 'waiting-for-pod' | 'attaching' | 'ready' | 'lost' | 'backing-off' | 'stopped';

export const LOST_OUTPUT_NOTE = 'output written while detached is lost';

/** A read of the pods: what the apiserver has now, or why that is unknown; `seq` orders reads as sent. */
type PodsRead = ({ readonly pods: readonly PodView[] } | { readonly unread: string }) & { readonly seq: number };

/** How long a v5 attach to a process of doubtful life must stay open before it counts (see `opened`). */
const V5_SETTLE_MS = 250;
/** How long a read of the pod (an attach's, or one standing in for the watch) may take before the watch's view is used. */
const READ_TIMEOUT_MS = 5_000;

export interface AttachBackendOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly pod?: string;
  readonly labelSelector?: string;
  readonly container: string;
  /** Subprotocols in the order tried; the next one is used when the server refuses one. */
  readonly protocols: readonly ChannelProtocol[];
  readonly reconnect: ResolvedBackoff;
  /** Quiet time before an MCP ping probes the connection; 0 disables. */
  readonly idleProbeMs: number;
  /** How long a probe may go unanswered. */
  readonly probeTimeoutMs: number;
  /** After a normal-looking close, how long to wait for the pod to show a dead process. */
  readonly exitConfirmMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
}

export class AttachBackend implements StreamBackend {
  readonly kind = 'attach';
  private readonly options: AttachBackendOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly podWatch: PodWatch;
  private readonly backoff: Backoff;
  private current: AttachState = 'idle';
  private onMessageHandler: (message: string) => void = () => {};
  private onStatusHandler: (status: BackendStatus) => void = () => {};
  private pod: PodView | undefined;
  private connection: AttachConnection | undefined;
  private probe: IdleProbe | undefined;
  /** The process of the attempt in flight or of the open connection. */
  private target: ProcessIdentity | undefined;
  /** The process of the last `up`; initialized once `handshakeDone` clears `handshakePending`. */
  private initialized: ProcessIdentity | undefined;
  /** `up` with newProcess was reported and the multiplexer has not confirmed the handshake yet. */
  private handshakePending = false;
  /** A process whose session ended like a normal close: not re-attached until the pod confirms. */
  private suspect: ProcessIdentity | undefined;
  /**
   * The process of a loss reported `provisional` (a normal-looking close): until the pod shows what
   * became of it, or it is attached again, every `down` is provisional too.
   */
  private unsettled: ProcessIdentity | undefined;
  private protocolIndex = 0;
  private attempt = 0;
  private upSince = 0;
  private lastDownReason: string | undefined;
  private backoffTimer: unknown;
  private suspectTimer: unknown;
  private verifyTimer: unknown;
  /** The next attach goes to a process the pod did not confirm alive: hold `up` until it proves so. */
  private verifyNextAttach = false;
  /** Reads of the pod in flight (`readPods`): `stop()` ends them. */
  private readonly reads = new Set<(read: PodsRead) => void>();
  /** A process a read found that the watch has not shown yet: the watch is behind (`podsChanged`). */
  private aheadOfWatch: ProcessIdentity | undefined;
  /** The watch's latest view, for when the pod cannot be read while the watch is behind (`readAgain`). */
  private watchPod: PodView | undefined;
  /** Reads of the pod sent so far, and the latest of them whose result was used. */
  private readsSent = 0;
  private newestReadUsed = 0;
  /** A read stands in for watch events (`readAgain`). */
  private rereading = false;
  /** The watch reported more while that read was out. */
  private rereadWanted = false;
  /** Pods a read showed replaced under their name: a lagging watch's news of them is old news. */
  private readonly replacedUids = new Set<string>();
  /** Per attempt: a line or character split across frames never outlives its connection. */
  private stdout = this.splitter((line) => this.deliver(line));
  private stderr = this.splitter((line) => this.log.info('server stderr', { stderr: line }));

  constructor(options: AttachBackendOptions) {
    this.options = options;
    this.clock = options.clock;
    this.backoff = new Backoff(options.reconnect);
    this.log = options.logger.child({ backend: 'attach', namespace: options.namespace, container: options.container });
    this.podWatch = new PodWatch(options.kubeConfig, options, options.clock, {
      changed: (pods) => this.podsChanged(pods),
      failed: (failure, retryInMs) => {
        if (failure.missingPermission) {
          this.log.error('pod watch forbidden: missing permission', {
            missingPermission: failure.missingPermission, permission: failure.permission, error: failure.message,
          });
        } else {
          this.log.warn('pod watch failed', { error: failure.message, retryInMs });
        }
        if (this.current !== 'ready') this.reportDown(`cannot watch the MCP pod: ${failure.message}`, retryInMs);
      },
    });
  }

  get state(): AttachState {
    return this.current;
  }

  onMessage(handler: (message: string) => void): void {
    this.onMessageHandler = handler;
  }

  onStatus(handler: (status: BackendStatus) => void): void {
    this.onStatusHandler = handler;
  }

  start(): void {
    if (this.current !== 'idle') return;
    this.transition('waiting-for-pod', { target: this.options.pod ?? `labelSelector=${this.options.labelSelector}` });
    this.podWatch.start();
  }

  send(message: string): boolean {
    if (this.current !== 'ready' || !this.connection) return false;
    return this.connection.write(message);
  }

  /**
   * What the connection holds for stdin. A server that stops reading stops the kubelet's copy into
   * its stdin, so TCP flow control fills the buffers on the way and then this grows.
   */
  stdinBacklog(): number {
    return this.current === 'ready' ? this.connection?.backlog ?? 0 : 0;
  }

  async stop(): Promise<void> {
    if (this.current === 'stopped') return;
    this.transition('stopped', {});
    this.attempt += 1;
    this.clock.clearTimeout(this.backoffTimer);
    this.clock.clearTimeout(this.suspectTimer);
    this.clock.clearTimeout(this.verifyTimer);
    // An upgrade that waits for its read is then closed by `opened`, like any stale attempt.
    for (const end of [...this.reads]) end({ unread: 'the backend stopped', seq: 0 });
    this.probe?.stop();
    const connection = this.connection;
    this.connection = undefined;
    await this.podWatch.stop();
    if (connection) {
      connection.close();
      await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      connection.terminate();
    }
  }

  private podsChanged(pods: readonly PodView[]): void {
    // Old news from a watch catching up on what a read of the pod already showed: a pod the read
    // found replaced, or the same pod at a lower restartCount (it never goes down).
    const current = pods.filter((pod) => !this.replacedUids.has(pod.uid));
    if (current.length < pods.length) this.log.debug('pod watch event about a pod already replaced: ignored', { pods: pods.length - current.length });
    const next = selectPod(current, (this.target ?? this.initialized)?.uid);
    if (next && this.pod && next.uid === this.pod.uid && next.container.restartCount < this.pod.container.restartCount) {
      this.log.debug('pod watch event older than the pod as last read: ignored', {
        restartCount: next.container.restartCount, current: this.pod.container.restartCount,
      });
      return;
    }
    this.watchPod = next;
    if (this.aheadOfWatch && current.some((pod) => sameProcess(processIdentity(pod), this.aheadOfWatch))) this.aheadOfWatch = undefined;
    if (this.aheadOfWatch) {
      // The watch has not shown the process a read found yet, so what it shows is older than that
      // read (a recreated pod's own ContainerCreating, the deletion of the pod it replaced): a
      // fresh read decides instead.
      this.readAgain();
      return;
    }
    this.adopt(next);
  }

  /** Goes by `pod` as the pod now: the attached process ends if it is not the one `pod` runs. */
  private adopt(pod: PodView | undefined): void {
    this.pod = pod;
    if ((this.current === 'ready' || this.current === 'attaching') && this.target) {
      const change = describeProcessChange(this.target, pod, this.options.container);
      if (change) this.lose(change, 'process-changed');
    } else if (this.current === 'waiting-for-pod') {
      this.tryAttach();
    }
  }

  /**
   * Reads the pod in place of a watch event that may be old news (see `podsChanged`). Events while
   * the read is out make one more read once it is back.
   */
  private readAgain(): void {
    if (this.rereading) {
      this.rereadWanted = true;
      return;
    }
    this.rereading = true;
    this.rereadWanted = false;
    void this.readPods().then((read) => {
      this.rereading = false;
      if (this.current === 'stopped') return;
      this.useRead(read);
      if (this.rereadWanted && this.aheadOfWatch) this.readAgain();
    });
  }

  /** Goes by a read made in place of the watch (`readAgain`); if the pod could not be read, by the watch. */
  private useRead(read: PodsRead): void {
    const ahead = this.aheadOfWatch;
    // The watch has shown the process this read went out for: its events are taken as they come again.
    if (!ahead) return;
    // A read sent later (an attach's) was used meanwhile: this one is older news, or no news.
    if (read.seq < this.newestReadUsed) return;
    if ('unread' in read) {
      this.log.warn('could not read the pod; going by the pod watch, which may be behind', { error: read.unread });
      this.aheadOfWatch = undefined;
      this.adopt(this.watchPod);
      return;
    }
    this.newestReadUsed = read.seq;
    const pod = selectPod(read.pods.filter((p) => !this.replacedUids.has(p.uid)), ahead.uid);
    const now = processIdentity(pod);
    if (sameProcess(now, ahead)) {
      this.log.info('pod watch is behind: what it shows is older than the pod as read now; ignored', {
        containerID: ahead.containerID, restartCount: ahead.restartCount,
      });
    } else {
      // The process found ahead of the watch is gone too.
      this.readFound(ahead, pod);
    }
    this.adopt(pod);
  }

  /**
   * A read shows `pod` where `was` ran: the watch is behind that read too, unless its latest event
   * already shows the same, and news of a pod the read shows replaced is old news from now on.
   */
  private readFound(was: ProcessIdentity, pod: PodView | undefined): void {
    if (pod?.uid !== was.uid) this.rememberReplaced(was.uid);
    const now = processIdentity(pod);
    this.aheadOfWatch = sameProcess(processIdentity(this.watchPod), now) ? undefined : now;
  }

  private rememberReplaced(uid: string): void {
    this.replacedUids.add(uid);
    // A pod is replaced a few times a day at most; the oldest are long gone from any watch.
    if (this.replacedUids.size > 16) this.replacedUids.delete(this.replacedUids.values().next().value!);
  }

  /** A provisional loss is settled when the pod shows the process gone: `down` again, naming why. */
  private settle(pod: PodView | undefined): void {
    const change = this.unsettled && describeProcessChange(this.unsettled, pod, this.options.container);
    if (!change) return;
    this.unsettled = undefined;
    this.reportDown(change);
  }

  private tryAttach(): void {
    if (this.current !== 'waiting-for-pod') return;
    this.settle(this.pod);
    const identity = processIdentity(this.pod);
    if (!identity) {
      this.reportDown(describeNotRunning(this.pod, this.options.pod ?? this.options.labelSelector ?? '', this.options.container));
      return;
    }
    if (sameProcess(identity, this.suspect)) return;
    this.attach(identity);
  }

  private attach(identity: ProcessIdentity): void {
    const protocol = this.options.protocols[this.protocolIndex]!;
    const attempt = ++this.attempt;
    this.target = identity;
    this.transition('attaching', { pod: identity.podName, containerID: identity.containerID, restartCount: identity.restartCount, protocol });
    this.stdout = this.splitter((line) => this.deliver(line));
    this.stderr = this.splitter((line) => this.log.info('server stderr', { stderr: line }));
    // The pod, read alongside the upgrade, tells which process this attach reaches: the watch's view
    // can lag behind (an apiserver restart, a slow watch), and the process may have changed since.
    const read = this.readPods();
    AttachConnection.open(this.options.kubeConfig, {
      namespace: this.options.namespace, pod: identity.podName, container: this.options.container, protocol,
    }, {
      stdout: (chunk) => { if (attempt === this.attempt) this.receive(chunk); },
      stderr: (chunk) => { if (attempt === this.attempt) this.stderr(chunk); },
      pong: () => { if (attempt === this.attempt) this.probe?.received(); },
      closed: (end) => { if (attempt === this.attempt) this.closed(attempt, this.target ?? identity, end); },
    }).then(
      async (connection) => this.opened(attempt, identity, connection, await read),
      (error: unknown) => this.refused(attempt, identity, error),
    );
  }

  /**
   * The pods the watch would show (the same GET or LIST) as the apiserver has them now, or why they
   * could not be read within READ_TIMEOUT_MS.
   */
  private readPods(): Promise<PodsRead> {
    const seq = ++this.readsSent;
    return new Promise<PodsRead>((resolve) => {
      const end = (read: PodsRead): void => {
        if (!this.reads.delete(end)) return;
        this.clock.clearTimeout(timer);
        resolve(read);
      };
      this.reads.add(end);
      const timer = this.clock.setTimeout(() => end({ unread: `no answer within ${READ_TIMEOUT_MS} ms`, seq }), READ_TIMEOUT_MS);
      this.podWatch.read().then(
        (pods) => end({ pods, seq }),
        (error: unknown) => end({ unread: error instanceof Error ? error.message : String(error), seq }),
      );
    });
  }

  /**
   * What the fresh read of the pod says of an attach made to `expected`: the process it reached, or
   * why the pod shows none running (then the attach is not used). Unread, the watch's view stands,
   * as it would without the read.
   */
  private confirm(expected: ProcessIdentity, read: PodsRead): { process?: ProcessIdentity; notRunning?: string } {
    if ('unread' in read) {
      this.log.warn('could not read the pod to confirm the attached process; going by the pod watch', { error: read.unread });
      return { process: expected };
    }
    const pod = read.pods.find((p) => p.name === expected.podName);
    this.settle(pod);
    const now = processIdentity(pod);
    // Not used as the pod's view (the watch's stays, so the attach is retried): not counted as used.
    if (!now) return { notRunning: describeNotRunning(pod, expected.podName, this.options.container) };
    this.newestReadUsed = Math.max(this.newestReadUsed, read.seq);
    if (!sameProcess(now, expected)) {
      this.readFound(expected, pod);
      this.log.info('pod watch is behind: the attach reached another process than the watch shows', {
        watch: { containerID: expected.containerID, restartCount: expected.restartCount, uid: expected.uid },
        pod: { containerID: now.containerID, restartCount: now.restartCount, uid: now.uid },
      });
    }
    this.pod = pod;
    return { process: now };
  }

  private opened(attempt: number, expected: ProcessIdentity, connection: AttachConnection, read: PodsRead): void {
    if (attempt !== this.attempt || this.current !== 'attaching') {
      connection.close();
      return;
    }
    const { process: identity = expected, notRunning } = this.confirm(expected, read);
    if (notRunning) {
      // Upgraded, yet the pod shows no running container: it died since, or its status lags a restart.
      this.attempt += 1;
      connection.close();
      this.target = undefined;
      this.backOff(`attach to pod ${identity.podName} reached no running process: ${notRunning}`);
      return;
    }
    this.target = identity;
    this.connection = connection;
    // A partial line left by an earlier writer would swallow our first message (ATTACH.md).
    connection.writeRaw('\n');
    if (this.verifyNextAttach && connection.protocol === 'v5.channel.k8s.io') {
      // v5 upgrades before the API server reaches the kubelet: a container that died unnoticed by
      // the pod status answers with an in-band Failure right after. Wait for it before `up`.
      this.verifyTimer = this.clock.setTimeout(() => {
        if (attempt === this.attempt && this.current === 'attaching') this.ready(identity, connection);
      }, V5_SETTLE_MS);
      return;
    }
    this.ready(identity, connection);
  }

  private ready(identity: ProcessIdentity, connection: AttachConnection): void {
    this.verifyNextAttach = false;
    const newProcess = !sameProcess(identity, this.initialized) || this.handshakePending;
    this.initialized = identity;
    this.handshakePending = newProcess;
    this.suspect = undefined;
    this.unsettled = undefined;
    this.clock.clearTimeout(this.suspectTimer);
    this.upSince = this.clock.now();
    this.lastDownReason = undefined;
    this.transition('ready', { newProcess, protocol: connection.protocol });
    this.probe = new IdleProbe({
      idleMs: this.options.idleProbeMs, timeoutMs: this.options.probeTimeoutMs, clock: this.clock,
      send: (line) => connection.write(line),
      ping: () => connection.ping(),
      dead: (reason) => {
        // A server that stopped reading stdin backs the stream up and answers nothing either: from
        // here the two look the same, so the reason names both when stdin was backed up.
        const waiting = connection.backlog;
        this.lose(waiting > 0 ? `${reason}, or the server stopped reading its stdin (${waiting} bytes for it were waiting)` : reason, 'connection-lost');
      },
    });
    this.probe.start();
    this.onStatusHandler({
      state: 'up', newProcess,
      detail: `pod ${this.options.namespace}/${identity.podName} container ${this.options.container} ` +
        `(restartCount ${identity.restartCount}) over ${connection.protocol}`,
    });
  }

  private refused(attempt: number, identity: ProcessIdentity, error: unknown): void {
    if (attempt !== this.attempt || this.current !== 'attaching') return;
    this.target = undefined;
    const failure = error instanceof AttachOpenError ? error.failure : { message: String(error) };
    const protocol = this.options.protocols[this.protocolIndex];
    if (error instanceof AttachOpenError && error.protocolRejected && this.protocolIndex + 1 < this.options.protocols.length) {
      this.protocolIndex += 1;
      this.log.info('attach subprotocol refused; trying the next one', {
        refused: protocol, next: this.options.protocols[this.protocolIndex], error: failure.message,
      });
      this.transition('waiting-for-pod', { reason: `${protocol} refused` });
      this.tryAttach();
      return;
    }
    if (failure.missingPermission) {
      this.log.error('attach forbidden: missing permission', {
        missingPermission: failure.missingPermission, permission: failure.permission, error: failure.message,
      });
    }
    if (failure.code === 500 && /not found/.test(failure.message)) this.suspectProcess(identity);
    const reason = `attach to pod ${identity.podName} failed: ${failure.message}`;
    this.backOff(reason);
  }

  private closed(attempt: number, identity: ProcessIdentity, end: AttachEnd): void {
    if (this.current === 'attaching') {
      // Ended while being verified (v5): as good as refused.
      this.clock.clearTimeout(this.verifyTimer);
      this.connection = undefined;
      const message = end.status?.message ?? `closed (${end.code})`;
      const failure = { ...(end.status?.code ? { code: end.status.code } : {}), message: `status ${end.status?.status ?? 'none'}: ${message}` };
      this.refused(attempt, identity, new AttachOpenError(failure, false));
      return;
    }
    if (this.current !== 'ready') return;
    const failed = end.status?.status === 'Failure';
    if (failed || end.code === 1000) {
      // A dead process ends the session exactly like a normal close: let the pod decide.
      const detail = failed ? `status Failure: ${end.status?.message ?? ''}` : `close 1000, status ${end.status?.status || 'none'}`;
      this.lose(`attach session closed by the API server (${detail}); a dead container looks the same, so the pod decides`, 'maybe-exited');
      return;
    }
    this.lose(`attach connection lost (close ${end.code}${end.error ? `: ${end.error.message}` : ''})`, 'connection-lost');
  }

  private lose(reason: string, cause: 'process-changed' | 'maybe-exited' | 'connection-lost'): void {
    const wasReady = this.current === 'ready';
    const lostProcess = this.target;
    this.attempt += 1;
    this.probe?.stop();
    this.probe = undefined;
    this.connection?.terminate();
    this.connection = undefined;
    this.target = undefined;
    if (wasReady && this.clock.now() - this.upSince >= this.options.reconnect.maxDelayMs) this.backoff.reset();
    // The handshake of a new process may never have reached it: initialize again next time.
    if (this.handshakePending) this.initialized = undefined;
    this.transition('lost', { reason });
    if (wasReady) {
      this.lastDownReason = reason;
      // After a normal-looking close only the pod can tell a dead process from a dropped session.
      if (cause === 'maybe-exited') this.unsettled = lostProcess;
      this.onStatusHandler({ state: 'down', reason: `${reason}; ${LOST_OUTPUT_NOTE}`, ...this.provisional() });
    }
    if (cause === 'connection-lost') {
      this.backOff(reason);
      return;
    }
    if (cause === 'maybe-exited' && lostProcess) this.suspectProcess(lostProcess);
    this.transition('waiting-for-pod', { reason });
    this.tryAttach();
  }

  /** Holds re-attaching to `process` until the pod shows a change or `exitConfirmMs` passes. */
  private suspectProcess(process: ProcessIdentity): void {
    this.suspect = process;
    this.clock.clearTimeout(this.suspectTimer);
    this.suspectTimer = this.clock.setTimeout(() => {
      if (!sameProcess(this.suspect, process)) return;
      if (sameProcess(processIdentity(this.pod), process)) {
        this.log.info('process still running after a normal-looking close; re-attaching to it', { containerID: process.containerID });
      }
      this.suspect = undefined;
      // The pod never confirmed a death: the process may be dead all the same.
      this.verifyNextAttach = true;
      this.tryAttach();
    }, this.options.exitConfirmMs);
  }

  private backOff(reason: string): void {
    const delayMs = this.backoff.next();
    this.transition('backing-off', { reason, delayMs });
    this.reportDown(reason, delayMs);
    this.clock.clearTimeout(this.backoffTimer);
    this.backoffTimer = this.clock.setTimeout(() => {
      if (this.current !== 'backing-off') return;
      this.transition('waiting-for-pod', {});
      this.tryAttach();
    }, delayMs);
  }

  /** While not up, tells the multiplexer why (once per distinct cause), e.g. for its 503s. */
  private reportDown(reason: string, retryInMs?: number): void {
    if (reason === this.lastDownReason || this.current === 'ready') return;
    this.lastDownReason = reason;
    this.onStatusHandler({ state: 'down', reason, ...(retryInMs !== undefined ? { retryInMs } : {}), ...this.provisional() });
  }

  private provisional(): { provisional?: true } {
    return this.unsettled ? { provisional: true } : {};
  }

  private receive(chunk: Buffer): void {
    this.probe?.received();
    this.stdout(chunk);
  }

  private deliver(line: string): void {
    if (this.probe?.intercept(line)) return;
    this.onMessageHandler(line);
  }

  /**
   * The MCP handshake with the process last reported `up` succeeded: a later re-attach to it is to
   * an initialized process (`newProcess: false`). Any other stdout (a notification, an error reply
   * to `initialize`) proves nothing of the kind.
   */
  handshakeDone(): void {
    this.handshakePending = false;
  }

  private splitter(onLine: (line: string) => void): (chunk: Buffer) => void {
    const decoder = new StringDecoder('utf8');
    const lines = new LineSplitter(onLine);
    return (chunk) => lines.push(decoder.write(chunk));
  }

  private transition(next: AttachState, fields: Record<string, unknown>): void {
    const from = this.current;
    this.current = next;
    this.log.info(`attach backend ${from} -> ${next}`, { from, to: next, ...fields });
  }
}
