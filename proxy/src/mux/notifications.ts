/**
 * Where a server notification goes: progress to the request that asked for it (with the client's own
 * token), log messages to sessions that set a level at or below the message's, `*\/list_changed` to
 * every session, `resources/updated` to the sessions subscribed to the resource, the server's
 * cancellation of one of its requests to the client that has it. A notification that names no
 * request is dropped rather than shown to clients it does not concern.
 */
import type { JsonRpcMessage } from '../jsonrpc.ts';
import type { Logger } from '../log.ts';
import type { PendingTable } from './pending.ts';
import type { ServerRequestRouter } from './server-requests.ts';
import { LOG_LEVELS, type SessionRegistry } from './session.ts';
import type { SharedServerState } from './shared-state.ts';

export interface NotificationRoutes {
  readonly pending: PendingTable;
  readonly sessions: SessionRegistry;
  readonly shared: SharedServerState;
  readonly serverRequests: ServerRequestRouter;
  readonly logger: Logger;
  /** The server's tool list changed (the proxy refreshes the names it accepts as metric labels). */
  readonly toolsChanged: () => void;
}

export function routeServerNotification(message: JsonRpcMessage, routes: NotificationRoutes): void {
  const method = message.method!;
  const params = message.params;
  if (method === 'notifications/progress') {
    const pending = routes.pending.byProgressToken(params?.progressToken);
    if (!pending?.session) return;
    params!.progressToken = pending.progressToken;
    const text = JSON.stringify(message);
    if (!pending.exchange?.relate(text)) pending.session.deliver(text);
    return;
  }
  if (method === 'notifications/message') {
    const level = LOG_LEVELS.indexOf(params?.level as (typeof LOG_LEVELS)[number]);
    const text = JSON.stringify(message);
    for (const session of routes.sessions.values()) {
      if (session.logLevel >= 0 && level >= session.logLevel) session.deliver(text);
    }
    return;
  }
  if (method.endsWith('/list_changed')) {
    const text = JSON.stringify(message);
    for (const session of routes.sessions.values()) session.deliver(text);
    if (method === 'notifications/tools/list_changed') routes.toolsChanged();
    return;
  }
  if (method === 'notifications/resources/updated') {
    const subscribed = routes.shared.subscribersOf(params?.uri);
    if (!subscribed) return;
    const text = JSON.stringify(message);
    for (const session of subscribed) session.deliver(text);
    return;
  }
  if (method === 'notifications/cancelled') return routes.serverRequests.cancelledByServer(message);
  routes.logger.debug('server notification with no recipient dropped', { method });
}
