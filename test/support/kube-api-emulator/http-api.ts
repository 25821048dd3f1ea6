/**
 * The REST side of the emulated apiserver: bearer-token authentication, an RBAC-like authorizer,
 * pod GET, LIST and WATCH (JSON lines of `{type, object}`, resumable by resourceVersion, 410 Gone
 * when too old), and the routing of `pods/attach` upgrades to the attach endpoint.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AttachEndpoint } from './attach-endpoint.ts';
import type { EmulatedPod } from './kubelet.ts';
import {
  fieldSelectorName, matchesFieldSelector, matchesLabelSelector, type PodObject, type PodStore, type WatchEvent,
} from './pods.ts';
import {
  failureStatus, forbiddenStatus, notFoundStatus, unauthorizedStatus, type DeniedAccess, type KubeStatus,
} from './status.ts';

export interface AccessPolicy {
  /** The one bearer token accepted; replaced by `faults.setToken` (a rotated ServiceAccount token). */
  token: string;
  /** The user the token authenticates, named in 403 messages. */
  readonly user: string;
  /** Denied permissions as `verb resource` or `verb resource/subresource`. */
  readonly denied: Set<string>;
  /**
   * RBAC limited by `resourceNames`: LIST and WATCH are allowed only when `fieldSelector`
   * pins one of these pod names (ATTACH.md); `undefined` means no such restriction.
   */
  readonly resourceNames: () => readonly string[] | undefined;
}

export interface ApiContext {
  readonly store: PodStore;
  readonly policy: AccessPolicy;
  readonly attach: AttachEndpoint;
  /** Open watch responses, for `faults.endWatches`. */
  readonly watches: Set<ServerResponse>;
  /**
   * While set (`faults.holdWatches`), watch events wait here instead of going out: a watch that
   * lags behind the store, as the apiserver's watch cache can, while GET and LIST stay current.
   */
  heldWatchEvents: (() => void)[] | undefined;
  /** Watches refused with 410 Gone so far (their resourceVersion had left the history). */
  gone: number;
  findPod(namespace: string, name: string): EmulatedPod | undefined;
}

const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?(?:\/([^/]+))?$/;

export function handleRequest(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const match = url.pathname.match(POD_PATH);
  if (!authenticated(ctx, req)) return reply(res, unauthorizedStatus());
  if (req.method !== 'GET' || !match) {
    return reply(res, failureStatus(404, 'NotFound', 'the server could not find the requested resource'));
  }
  const [, namespace, name, subresource] = match as unknown as [string, string, string | undefined, string | undefined];
  if (subresource) return reply(res, failureStatus(405, 'MethodNotAllowed', `${subresource} requires a WebSocket upgrade`));
  if (name) {
    const denied = authorize(ctx, 'get', namespace, name);
    if (denied) return reply(res, forbiddenStatus(denied));
    const pod = ctx.store.get(namespace, name);
    return pod ? replyJson(res, 200, pod) : reply(res, notFoundStatus('pods', name));
  }
  const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  const labelSelector = url.searchParams.get('labelSelector');
  const fieldSelector = url.searchParams.get('fieldSelector');
  const denied = authorize(ctx, watching ? 'watch' : 'list', namespace, undefined, fieldSelector);
  if (denied) return reply(res, forbiddenStatus(denied));
  const selects = (pod: PodObject): boolean =>
    pod.metadata.namespace === namespace && matchesLabelSelector(pod.metadata.labels, labelSelector) &&
    matchesFieldSelector(pod, fieldSelector);
  if (!watching) {
    return replyJson(res, 200, {
      apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: ctx.store.currentVersion() },
      items: ctx.store.list(namespace).filter(selects),
    });
  }
  serveWatch(ctx, url, req, res, namespace, selects);
}

function serveWatch(
  ctx: ApiContext, url: URL, req: IncomingMessage, res: ServerResponse, namespace: string,
  selects: (pod: PodObject) => boolean,
): void {
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
  const write = (event: { type: string; object: unknown }): void => {
    const send = (): void => { if (!res.writableEnded) res.write(JSON.stringify(event) + '\n'); };
    if (ctx.heldWatchEvents) ctx.heldWatchEvents.push(send);
    else send();
  };
  const requested = url.searchParams.get('resourceVersion');
  let from = Number(requested);
  if (!requested || requested === '0' || !Number.isFinite(from)) {
    // No resourceVersion: synthetic ADDED events for the current state, then changes.
    for (const pod of ctx.store.list(namespace).filter(selects)) write({ type: 'ADDED', object: pod });
    from = Number(ctx.store.currentVersion());
  }
  // A selector change moves a pod in or out of the watch: the apiserver reports that as ADDED/DELETED.
  const visible = new Set<string>(ctx.store.list(namespace).filter(selects).map((p) => p.metadata.uid));
  const unsubscribe = ctx.store.watch(from, (event: WatchEvent) => {
    const uid = event.object.metadata.uid;
    const now = event.type !== 'DELETED' && selects(event.object);
    const before = visible.has(uid);
    if (now) visible.add(uid);
    else visible.delete(uid);
    if (now && !before) write({ type: 'ADDED', object: event.object });
    else if (now) write({ type: event.type, object: event.object });
    else if (before) write({ type: 'DELETED', object: event.object });
  });
  if (!unsubscribe) {
    ctx.gone += 1;
    write({ type: 'ERROR', object: failureStatus(410, 'Expired', `too old resource version: ${from}`) });
    res.end();
    return;
  }
  const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? 0);
  const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined;
  ctx.watches.add(res);
  const end = (): void => {
    unsubscribe();
    ctx.watches.delete(res);
    if (timer) clearTimeout(timer);
  };
  req.on('close', end);
  res.on('close', end);
}

/** Handles the `pods/attach` WebSocket upgrade; anything else on `upgrade` is refused. */
export function handleUpgrade(ctx: ApiContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => {});
  const url = new URL(req.url ?? '/', 'http://emulator');
  const match = url.pathname.match(POD_PATH);
  if (!authenticated(ctx, req)) return rejectUpgrade(socket, unauthorizedStatus());
  if (!match || match[3] !== 'attach' || !match[2]) {
    return rejectUpgrade(socket, failureStatus(404, 'NotFound', 'the server could not find the requested resource'));
  }
  const namespace = match[1]!;
  const name = match[2];
  // A WebSocket attach is an HTTP GET: authorized as `get` (1.32) and, from 1.35, also `create`.
  for (const verb of ['get', 'create']) {
    const denied = authorize(ctx, verb, namespace, name, null, 'attach');
    if (denied) return rejectUpgrade(socket, forbiddenStatus(denied));
  }
  const pod = ctx.findPod(namespace, name);
  if (!pod?.object) return rejectUpgrade(socket, notFoundStatus('pods', name));
  const container = url.searchParams.get('container') ?? pod.spec.container;
  const protocol = ctx.attach.chooseProtocol(req);
  if (!protocol) {
    return rejectUpgrade(socket, failureStatus(400, 'BadRequest', 'requested protocol(s) are not supported'));
  }
  const waiting = pod.waitingReason();
  if (waiting && container === pod.spec.container) {
    return rejectUpgrade(socket, failureStatus(400, 'BadRequest', `container ${container} is waiting to start: ${waiting}`));
  }
  const process = pod.runningProcess(container);
  if (!process && protocol === 'v4.channel.k8s.io') {
    return rejectUpgrade(socket, failureStatus(500, 'InternalError', `container ${container} not found`));
  }
  ctx.attach.upgrade(req, socket, head, protocol, pod, container, process, url.searchParams.get('stdin') === 'true');
}

function authenticated(ctx: ApiContext, req: IncomingMessage): boolean {
  return req.headers.authorization === `Bearer ${ctx.policy.token}`;
}

function authorize(
  ctx: ApiContext, verb: string, namespace: string, name?: string, fieldSelector?: string | null, subresource?: string,
): DeniedAccess | undefined {
  const resource = subresource ? `pods/${subresource}` : 'pods';
  const denied: DeniedAccess = {
    verb, resource: 'pods', ...(subresource ? { subresource } : {}), namespace, ...(name ? { name } : {}),
    user: ctx.policy.user,
  };
  if (ctx.policy.denied.has(`${verb} ${resource}`)) return denied;
  const names = ctx.policy.resourceNames();
  if (!names) return undefined;
  const pinned = name ?? fieldSelectorName(fieldSelector ?? null);
  return pinned && names.includes(pinned) ? undefined : denied;
}

function reply(res: ServerResponse, status: KubeStatus): void {
  replyJson(res, status.code ?? 200, status);
}

function replyJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function rejectUpgrade(socket: Duplex, status: KubeStatus): void {
  const body = JSON.stringify(status);
  const code = status.code ?? 500;
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[code] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${code} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`,
  );
}
