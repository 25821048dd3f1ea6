/**
 * The emulator's pod objects and their watch stream: a monotonically increasing resourceVersion,
 * an event history that watches resume from, and selectors as the apiserver evaluates them.
 * Pods are plain JSON shaped like `core/v1 Pod` (only the fields a client reads).
 */
import { randomUUID } from 'node:crypto';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: PodObject;
}

export type ContainerState =
  | { readonly running: { readonly startedAt: string } }
  | { readonly waiting: { readonly reason: string; readonly message?: string } }
  | {
      readonly terminated: {
        readonly exitCode: number; readonly signal?: number; readonly reason: string;
        readonly containerID: string; readonly startedAt: string; readonly finishedAt: string;
      };
    };

export interface ContainerStatus {
  readonly name: string;
  readonly image: string;
  readonly containerID?: string;
  readonly restartCount: number;
  readonly ready: boolean;
  readonly started: boolean;
  readonly state: ContainerState;
  readonly lastState: ContainerState | Record<string, never>;
}

export interface PodObject {
  readonly apiVersion: 'v1';
  readonly kind: 'Pod';
  readonly metadata: {
    readonly name: string; readonly namespace: string; readonly uid: string;
    readonly resourceVersion: string; readonly creationTimestamp: string;
    readonly deletionTimestamp?: string;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly spec: {
    readonly containers: readonly { name: string; image: string; stdin: boolean; stdinOnce: boolean; tty: boolean }[];
    readonly nodeName: string;
  };
  readonly status: {
    readonly phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
    readonly conditions: readonly { type: string; status: 'True' | 'False' }[];
    readonly containerStatuses: readonly ContainerStatus[];
  };
}

/** The mutable part of a pod that the emulated kubelet changes. */
export interface PodStatusPatch {
  readonly phase?: PodObject['status']['phase'];
  readonly container?: ContainerStatus;
  readonly deletionTimestamp?: string;
}

const HISTORY_LIMIT = 1000;

export class PodStore {
  private resourceVersion = 1000;
  private readonly pods = new Map<string, PodObject>();
  /** Events with their resourceVersion, for watches that resume (`?resourceVersion=`). */
  private readonly history: { rv: number; event: WatchEvent }[] = [];
  private readonly watchers = new Set<(event: WatchEvent, rv: number) => void>();

  currentVersion(): string {
    return String(this.resourceVersion);
  }

  get(namespace: string, name: string): PodObject | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  list(namespace: string): PodObject[] {
    return [...this.pods.values()].filter((pod) => pod.metadata.namespace === namespace);
  }

  create(namespace: string, name: string, labels: Record<string, string>, container: string, image: string): PodObject {
    const pod: PodObject = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name, namespace, uid: randomUUID(), resourceVersion: '', creationTimestamp: new Date().toISOString(), labels,
      },
      spec: { containers: [{ name: container, image, stdin: true, stdinOnce: false, tty: false }], nodeName: 'emulated-node' },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }],
        containerStatuses: [{
          name: container, image, restartCount: 0, ready: false, started: false,
          state: { waiting: { reason: 'ContainerCreating' } }, lastState: {},
        }],
      },
    };
    return this.commit('ADDED', pod);
  }

  update(namespace: string, name: string, patch: PodStatusPatch): PodObject | undefined {
    const pod = this.get(namespace, name);
    if (!pod) return undefined;
    const container = patch.container ?? pod.status.containerStatuses[0]!;
    const phase = patch.phase ?? pod.status.phase;
    const ready = 'running' in container.state;
    const next: PodObject = {
      ...pod,
      metadata: { ...pod.metadata, ...(patch.deletionTimestamp ? { deletionTimestamp: patch.deletionTimestamp } : {}) },
      status: {
        phase,
        conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: ready ? 'True' : 'False' }],
        containerStatuses: [container],
      },
    };
    return this.commit('MODIFIED', next);
  }

  delete(namespace: string, name: string): void {
    const pod = this.get(namespace, name);
    if (!pod) return;
    this.pods.delete(`${namespace}/${name}`);
    this.resourceVersion += 1;
    const gone: PodObject = { ...pod, metadata: { ...pod.metadata, resourceVersion: String(this.resourceVersion) } };
    this.publish({ type: 'DELETED', object: gone });
  }

  /**
   * Pods elsewhere in the cluster change `events` times. Resource versions are cluster-wide and
   * the history is a window of the latest events, as an apiserver's watch cache is: afterwards a
   * pod that has not changed meanwhile carries a resourceVersion a watch can no longer start from.
   */
  churn(events: number): void {
    const [namespace, name] = ['kube-system', 'churn'];
    if (!this.get(namespace, name)) this.create(namespace, name, {}, 'churn', 'emulated/churn');
    for (let i = 0; i < events; i++) this.update(namespace, name, {});
  }

  /**
   * Subscribes to events after `fromVersion` (as a watch with `resourceVersion` does). Returns
   * `undefined` when that version has left the history: the apiserver answers 410 Gone.
   */
  watch(fromVersion: number, listener: (event: WatchEvent, rv: number) => void): (() => void) | undefined {
    const oldest = this.history[0]?.rv ?? this.resourceVersion + 1;
    if (fromVersion < oldest - 1 && fromVersion < this.resourceVersion) return undefined;
    for (const entry of this.history) if (entry.rv > fromVersion) listener(entry.event, entry.rv);
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  private commit(type: WatchEventType, pod: PodObject): PodObject {
    this.resourceVersion += 1;
    const stored: PodObject = { ...pod, metadata: { ...pod.metadata, resourceVersion: String(this.resourceVersion) } };
    this.pods.set(`${stored.metadata.namespace}/${stored.metadata.name}`, stored);
    this.publish({ type, object: stored });
    return stored;
  }

  private publish(event: WatchEvent): void {
    this.history.push({ rv: this.resourceVersion, event });
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    for (const watcher of [...this.watchers]) watcher(event, this.resourceVersion);
  }
}

/** `labelSelector` as the apiserver parses its equality-based form: `a=b,c!=d,e`. */
export function matchesLabelSelector(labels: Readonly<Record<string, string>>, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').map((term) => term.trim()).filter(Boolean).every((term) => {
    const neq = term.match(/^([^!=]+)!=(.*)$/);
    if (neq) return labels[neq[1]!.trim()] !== neq[2]!.trim();
    const eq = term.match(/^([^=]+)==?(.*)$/);
    if (eq) return labels[eq[1]!.trim()] === eq[2]!.trim();
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}

/** `fieldSelector`: the pod fields a client of this API can select on. */
export function matchesFieldSelector(pod: PodObject, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').map((term) => term.trim()).filter(Boolean).every((term) => {
    const match = term.match(/^([^!=]+)(!=|==|=)(.*)$/);
    if (!match) return false;
    const field = match[1]!;
    const value = field === 'metadata.name' ? pod.metadata.name
      : field === 'metadata.namespace' ? pod.metadata.namespace
      : field === 'status.phase' ? pod.status.phase : undefined;
    return match[2] === '!=' ? value !== match[3] : value === match[3];
  });
}

/** The pod names a `fieldSelector` pins (`metadata.name=x`), as RBAC `resourceNames` checks need. */
export function fieldSelectorName(selector: string | null): string | undefined {
  return selector?.split(',').map((term) => term.trim().match(/^metadata\.name==?(.+)$/)?.[1]).find(Boolean);
}
