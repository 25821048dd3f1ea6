/**
 * What the backend needs to know about the MCP pod, distilled from a `V1Pod`: whether the
 * container runs, and which process it is. A process is identified by pod uid + containerID
 * (+ restartCount): the attach close looks the same whether the process died or not (ATTACH.md),
 * so the pod, not the connection, decides whether the proxy talks to a new process.
 */
import type { V1Pod } from '@kubernetes/client-node';

export interface PodView {
  readonly name: string;
  readonly uid: string;
  readonly deleting: boolean;
  readonly container: ContainerView;
}

export type ContainerView =
  | { readonly state: 'running'; readonly containerID: string; readonly restartCount: number }
  | { readonly state: 'waiting'; readonly reason: string; readonly restartCount: number }
  | { readonly state: 'terminated'; readonly exitCode: number; readonly reason: string; readonly restartCount: number }
  | { readonly state: 'absent'; readonly restartCount: number };

export function viewPod(pod: V1Pod, container: string): PodView {
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  const restartCount = status?.restartCount ?? 0;
  let view: ContainerView = { state: 'absent', restartCount };
  if (status?.state?.running && status.containerID) {
    view = { state: 'running', containerID: status.containerID, restartCount };
  } else if (status?.state?.waiting) {
    view = { state: 'waiting', reason: status.state.waiting.reason ?? 'Waiting', restartCount };
  } else if (status?.state?.terminated) {
    const t = status.state.terminated;
    view = { state: 'terminated', exitCode: t.exitCode, reason: t.reason ?? 'Terminated', restartCount };
  }
  return {
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    deleting: pod.metadata?.deletionTimestamp != null,
    container: view,
  };
}

/** The process the pod runs now, or undefined when the container is not running. */
export function processIdentity(pod: PodView | undefined): ProcessIdentity | undefined {
  if (!pod || pod.deleting || pod.container.state !== 'running') return undefined;
  return { podName: pod.name, uid: pod.uid, containerID: pod.container.containerID, restartCount: pod.container.restartCount };
}

export interface ProcessIdentity {
  readonly podName: string;
  readonly uid: string;
  readonly containerID: string;
  readonly restartCount: number;
}

export function sameProcess(a: ProcessIdentity | undefined, b: ProcessIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.uid === b.uid && a.containerID === b.containerID &&
    a.restartCount === b.restartCount;
}

/**
 * Why the process `was` is no longer the one the pod runs (`now`), in words for logs and for the
 * error given to in-flight requests; undefined when it still is.
 */
export function describeProcessChange(was: ProcessIdentity, now: PodView | undefined, container: string): string | undefined {
  if (!now) return `pod ${was.podName} was deleted`;
  if (now.uid !== was.uid) return `pod ${was.podName} was replaced by ${now.name} (uid ${now.uid})`;
  if (now.deleting) return `pod ${now.name} is being deleted`;
  const c = now.container;
  if (c.state === 'running') {
    if (c.containerID === was.containerID && c.restartCount === was.restartCount) return undefined;
    return `container ${container} restarted (restartCount ${c.restartCount})`;
  }
  if (c.state === 'terminated') return `container ${container} terminated (exit code ${c.exitCode}, ${c.reason})`;
  if (c.state === 'waiting') return `container ${container} is waiting (${c.reason}, restartCount ${c.restartCount})`;
  return `container ${container} is missing from pod ${now.name}`;
}

/** Why no process can be attached to right now (pod absent, pending, crash-looping...). */
export function describeNotRunning(pod: PodView | undefined, target: string, container: string): string {
  if (!pod) return `no pod ${target} found`;
  if (pod.deleting) return `pod ${pod.name} is being deleted`;
  const c = pod.container;
  if (c.state === 'waiting') return `container ${container} of pod ${pod.name} is waiting (${c.reason})`;
  if (c.state === 'terminated') return `container ${container} of pod ${pod.name} terminated (exit code ${c.exitCode}, ${c.reason})`;
  if (c.state === 'absent') return `pod ${pod.name} has no status for container ${container} yet`;
  return `container ${container} of pod ${pod.name} is running`;
}
