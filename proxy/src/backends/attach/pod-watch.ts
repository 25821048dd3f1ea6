/**
 * Keeps the MCP pod's status current with the library's `ListWatch` (list, then watch from the
 * list's resourceVersion, resume after a dropped watch, re-list after 410 Gone). A named pod is
 * watched with `fieldSelector=metadata.name=<pod>`: RBAC limited by `resourceNames` refuses a
 * list or watch of the whole namespace (403).
 *
 * `ListWatch` stops for good on any other error; this class restarts it with backoff, because
 * an apiserver restart or an RBAC fix must not need a proxy restart.
 */
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../types.ts';
import { Backoff } from '../backoff.ts';
import { describeApiFailure, type ApiFailure, type ApiRequest } from './kube-errors.ts';
import { viewPod, type PodView } from './pod-view.ts';

export interface PodWatchTarget {
  readonly namespace: string;
  readonly pod?: string;
  readonly labelSelector?: string;
  readonly container: string;
}

export interface PodWatchHandlers {
  /** Every pod that matches, after each change. */
  changed(pods: readonly PodView[]): void;
  /** The list or watch failed; it is retried after `retryInMs`. */
  failed(failure: ApiFailure, retryInMs: number): void;
}

export class PodWatch {
  private readonly informer: ListWatch<V1Pod>;
  private readonly target: PodWatchTarget;
  private readonly clock: Clock;
  private readonly backoff = new Backoff({ initialDelayMs: 500, maxDelayMs: 30_000 });
  private retryTimer: unknown;
  private stopped = false;

  constructor(kc: KubeConfig, target: PodWatchTarget, clock: Clock, handlers: PodWatchHandlers) {
    this.target = target;
    this.clock = clock;
    const core = kc.makeApiClient(CoreV1Api);
    const fieldSelector = target.pod ? `metadata.name=${target.pod}` : undefined;
    const list = () => core.listNamespacedPod({
      namespace: target.namespace,
      ...(fieldSelector ? { fieldSelector } : {}),
      ...(target.labelSelector ? { labelSelector: target.labelSelector } : {}),
    });
    this.informer = new ListWatch<V1Pod>(
      `/api/v1/namespaces/${target.namespace}/pods`, new Watch(kc), list, false, target.labelSelector, fieldSelector,
    );
    const publish = (): void => {
      if (this.stopped) return;
      this.backoff.reset();
      handlers.changed(this.informer.list(target.namespace).map((pod) => viewPod(pod, target.container)));
    };
    this.informer.on('add', publish);
    this.informer.on('update', publish);
    this.informer.on('delete', publish);
    this.informer.on('error', (error: unknown) => {
      if (this.stopped) return;
      const retryInMs = this.backoff.next();
      handlers.failed(describeApiFailure(this.requestOf(error), error), retryInMs);
      this.retryTimer = this.clock.setTimeout(() => this.run(), retryInMs);
    });
  }

  start(): void {
    this.stopped = false;
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.retryTimer);
    await this.informer.stop();
  }

  private run(): void {
    if (this.stopped) return;
    // Errors surface through the 'error' callback; the promise only says the first list is done.
    this.informer.start().catch(() => {});
  }

  /** Which call failed: the list throws an ApiException (`code`), the watch an Error with `statusCode`. */
  private requestOf(error: unknown): ApiRequest {
    const verb = typeof (error as { code?: unknown })?.code === 'number' ? 'list' : 'watch';
    return {
      verb, resource: 'pods', namespace: this.target.namespace,
      ...(this.target.pod
        ? { note: `restricted by resourceNames to "${this.target.pod}", requested with fieldSelector=metadata.name=${this.target.pod}` }
        : { note: `labelSelector=${this.target.labelSelector ?? ''}` }),
    };
  }
}

/**
 * The pod to attach to among those that match: the one already in use while it exists and is
 * not being deleted, else a running one, else any.
 */
export function selectPod(pods: readonly PodView[], preferUid: string | undefined): PodView | undefined {
  const live = pods.filter((p) => !p.deleting);
  return live.find((p) => p.uid === preferUid) ??
    live.find((p) => p.container.state === 'running') ??
    live[0] ??
    pods.find((p) => p.uid === preferUid);
}
