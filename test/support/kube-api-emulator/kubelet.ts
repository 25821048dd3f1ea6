/**
 * The emulated kubelet: runs the pod's one container as a real process and reports its lifecycle
 * in the pod status with the delays seen on a real node (ATTACH.md): the container is created
 * (Pending/ContainerCreating), runs, and when its process dies the status shows `terminated` a
 * little later, then the container is restarted (new containerID, restartCount + 1). Optionally a
 * started process shows as `running` only a little later too (`runningAfterMs`).
 */
import { ContainerProcess, type ContainerCommand } from './container.ts';
import type { ContainerStatus, PodObject, PodStore } from './pods.ts';

export interface KubeletTimings {
  /** Pending/ContainerCreating before the first container starts. */
  readonly startDelayMs: number;
  /** From a process's death to `terminated` in the pod status (0.24–0.9 s measured). */
  readonly terminatedAfterMs: number;
  /** From `terminated` to the restarted container's process running. */
  readonly restartAfterMs: number;
  /**
   * From a process's start to `running` in the pod status: the kubelet reports a container's state
   * when its relist sees it, so a process can run while the status still shows the state before it.
   */
  readonly runningAfterMs: number;
}

export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly container: string;
  readonly image: string;
  readonly command: ContainerCommand;
}

/** One pod and the container process currently behind it. */
export class EmulatedPod {
  process: ContainerProcess | undefined;
  /** Every process this pod has run, oldest first (tests read their stdin counters). */
  readonly processes: ContainerProcess[] = [];
  private restartCount = 0;
  private deleted = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly uid: string;
  readonly spec: PodSpec;
  private readonly store: PodStore;
  private readonly timings: KubeletTimings;

  constructor(store: PodStore, spec: PodSpec, timings: KubeletTimings) {
    this.store = store;
    this.spec = spec;
    this.timings = timings;
    const pod = store.create(spec.namespace, spec.name, spec.labels, spec.container, spec.image);
    this.uid = pod.metadata.uid;
    this.later(timings.startDelayMs, () => this.startContainer());
  }

  get object(): PodObject | undefined {
    const pod = this.store.get(this.spec.namespace, this.spec.name);
    return pod?.metadata.uid === this.uid ? pod : undefined;
  }

  /** The container's name check, as the kubelet does before it attaches a stream. */
  runningProcess(container: string): ContainerProcess | undefined {
    if (container !== this.spec.container || this.deleted) return undefined;
    return this.process?.running ? this.process : undefined;
  }

  waitingReason(): string | undefined {
    const state = this.object?.status.containerStatuses[0]?.state;
    return state && 'waiting' in state ? state.waiting.reason : undefined;
  }

  /** Deletes the pod: the process is killed (grace period skipped), then the object disappears. */
  async delete(): Promise<void> {
    if (this.deleted) return;
    this.deleted = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.store.update(this.spec.namespace, this.spec.name, { deletionTimestamp: new Date().toISOString() });
    await this.process?.kill('SIGKILL');
    this.store.delete(this.spec.namespace, this.spec.name);
  }

  private startContainer(lastState: ContainerStatus['lastState'] = {}): void {
    if (this.deleted) return;
    const process = new ContainerProcess(this.spec.command);
    this.process = process;
    this.processes.push(process);
    const reportRunning = (): void => {
      // A process that died before the relist saw it running is reported terminated only.
      if (!process.running) return;
      this.store.update(this.spec.namespace, this.spec.name, {
        phase: 'Running',
        container: this.status({ running: { startedAt: process.startedAt } }, process.containerID, lastState),
      });
    };
    if (this.timings.runningAfterMs > 0) this.later(this.timings.runningAfterMs, reportRunning);
    else reportRunning();
    void process.exit.then((exit) => {
      if (this.deleted) return;
      this.later(this.timings.terminatedAfterMs, () => {
        const terminated = {
          terminated: {
            exitCode: exit.exitCode, reason: exit.exitCode === 0 ? 'Completed' : 'Error',
            containerID: process.containerID, startedAt: process.startedAt, finishedAt: new Date().toISOString(),
          },
        };
        this.store.update(this.spec.namespace, this.spec.name, {
          container: this.status(terminated, process.containerID, lastState),
        });
        this.later(this.timings.restartAfterMs, () => {
          this.restartCount += 1;
          this.startContainer(terminated);
        });
      });
    });
  }

  private status(state: ContainerStatus['state'], containerID: string, lastState: ContainerStatus['lastState']): ContainerStatus {
    const running = 'running' in state;
    return {
      name: this.spec.container, image: this.spec.image, containerID,
      restartCount: this.restartCount, ready: running, started: running, state, lastState,
    };
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }
}
