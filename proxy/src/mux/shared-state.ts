/**
 * Server-side state that clients set per session but the one backend process holds once: the
 * logging level and resource subscriptions. The backend gets the union (the lowest level any session
 * asked for; a subscription while any session holds it) and the proxy filters per session.
 */
import { LOG_LEVELS, type Session, type SessionRegistry } from './session.ts';

export class SharedServerState {
  private readonly sessions: SessionRegistry;
  /** uri → sessions subscribed to it. */
  private readonly subscribers = new Map<string, Set<Session>>();

  constructor(sessions: SessionRegistry) {
    this.sessions = sessions;
  }

  /** The lowest level any session set, or undefined when none set one. */
  lowestLogLevel(): (typeof LOG_LEVELS)[number] | undefined {
    let lowest: number = LOG_LEVELS.length;
    for (const session of this.sessions.values()) if (session.logLevel >= 0 && session.logLevel < lowest) lowest = session.logLevel;
    return lowest < LOG_LEVELS.length ? LOG_LEVELS[lowest] : undefined;
  }

  subscribe(session: Session, uri: string): void {
    (session.subscriptions ??= new Set()).add(uri);
    let set = this.subscribers.get(uri);
    if (!set) this.subscribers.set(uri, (set = new Set()));
    set.add(session);
  }

  /** Removes a session's subscription; true when other sessions still hold it (the backend keeps it). */
  unsubscribe(session: Session, uri: string): boolean {
    session.subscriptions?.delete(uri);
    const set = this.subscribers.get(uri);
    set?.delete(session);
    if (set && set.size > 0) return true;
    this.subscribers.delete(uri);
    return false;
  }

  subscribersOf(uri: unknown): ReadonlySet<Session> | undefined {
    return typeof uri === 'string' ? this.subscribers.get(uri) : undefined;
  }

  subscribedUris(): Iterable<string> {
    return this.subscribers.keys();
  }
}
