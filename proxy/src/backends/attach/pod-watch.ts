/**
 * Keeps the MCP pod's status current with the library's `ListWatch` (list, then watch from the
 * list's resourceVersion, resume after a dropped watch, re-list after 410 Gone). A named pod is
 * read with GET and watched with `fieldSelector=metadata.name=<pod>` from now: RBAC limited by
 * `resourceNames` refuses a watch of the whole namespace (403), and needs no `list` this way.
 *
 * `ListWatch` stops for good on any other error; this class restarts it with backoff, because
 * an apiserver restart or an RBAC fix must not need a proxy restart.
 */
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Pod, type V1PodList } from '@kubernetes/client-node';
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
  private readonly list: () => Promise<V1PodList>;
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
    const list = target.pod ? getAsList(core, target.namespace, target.pod) : () => core.listNamespacedPod({
      namespace: target.namespace, ...(target.labelSelector ? { labelSelector: target.labelSelector } : {}),
    });
    this.list = list;
    const publish = (): void => {
      if (this.stopped) return;
      this.backoff.reset();
      handlers.changed(this.informer.list(target.namespace).map((pod) => viewPod(pod, target.container)));
    };
    // An empty list adds nothing, so the informer fires no event: say "no such pod" all the same
    // (after the informer has taken the list in, on the next turn).
    const listThenPublishEmpty = async (): Promise<V1PodList> => {
      const result = await list();
      if (result.items.length === 0) setImmediate(publish);
      return result;
    };
    this.informer = new ListWatch<V1Pod>(
      `/api/v1/namespaces/${target.namespace}/pods`, new SettledWatch(kc), listThenPublishEmpty, false, target.labelSelector, fieldSelector,
    );
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

  /**
   * The matching pods as the apiserver has them now, with the same GET or LIST the watch starts
   * from (so no permission beyond the watch's): a watch can lag behind, a read without
   * resourceVersion cannot. Rejects when the read fails, with an Error whose message says why in
   * one line (for a 403, the missing permission).
   */
  async read(): Promise<PodView[]> {
    let result: V1PodList;
    try {
      result = await this.list();
    } catch (error) {
      throw new Error(describeApiFailure(this.request(true), error).message, { cause: error });
    }
    return result.items.map((pod) => viewPod(pod, this.target.container));
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

  /** Which call failed: GET/LIST throw an ApiException (`code`), the watch an Error with `statusCode`. */
  private requestOf(error: unknown): ApiRequest {
    return this.request(typeof (error as { code?: unknown })?.code === 'number');
  }

  /** The GET or LIST (`initial`), or the watch, as the authorizer sees it. */
  private request(initial: boolean): ApiRequest {
    const verb = initial ? (this.target.pod ? 'get' : 'list') : 'watch';
    if (!this.target.pod) return { verb, resource: 'pods', namespace: this.target.namespace, note: `labelSelector=${this.target.labelSelector ?? ''}` };
    return verb === 'get'
      ? { verb, resource: 'pods', namespace: this.target.namespace, name: this.target.pod }
      : { verb, resource: 'pods', namespace: this.target.namespace, name: this.target.pod, note: `fieldSelector=metadata.name=${this.target.pod}` };
  }
}

/**
 * The library's `Watch.watch` rejects, instead of calling `done`, when it cannot even make the
 * request: a kubeconfig's exec or OIDC credential plugin fails, or there is no current cluster.
 * `ListWatch` calls it from the previous watch's `done` without catching it, so on a reconnect the
 * rejection went unhandled and ended the process, and on `start()` the watch stopped for good.
 * Here it is one more watch failure: `done(error)`, after `ListWatch` has taken the controller.
 */
class SettledWatch extends Watch {
  override async watch(
    path: string, queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void,
  ): Promise<AbortController> {
    try {
      return await super.watch(path, queryParams, callback, done);
    } catch (error) {
      setImmediate(() => done(error));
      return new AbortController();
    }
  }
}

/**
 * The "list" of a named pod is a GET of it: RBAC then needs only `get` and `watch` on that one pod
 * (`resourceNames`), no `list`. The watch that follows starts from now (no resourceVersion: the
 * apiserver first sends the pod as it is, then its changes), never from the pod's own
 * resourceVersion: that is as old as the pod's last change, and the apiserver keeps only a short
 * window of the cluster's pod events, so a watch from it is refused with 410 Gone once the pod has
 * been stable for a while, and again after every re-read (`ListWatch` would then only poll the
 * pod, with delays growing to 30 s, and miss restarts meanwhile). A missing pod is an empty list;
 * the watch reports it when it appears.
 */
function getAsList(core: CoreV1Api, namespace: string, name: string): () => Promise<V1PodList> {
  return async () => {
    try {
      const pod = await core.readNamespacedPod({ namespace, name });
      return { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '' }, items: [pod] };
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return { apiVersion: 'v1', kind: 'PodList', metadata: {}, items: [] };
      throw error;
    }
  };
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
