/**
 * The attach backend's pure parts, driven directly: what the pod says about the process, how API
 * failures are worded, and the idle probe on a clock the test controls.
 */
import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { IdleProbe } from '../../proxy/src/backends/attach/idle-probe.ts';
import { describeApiFailure } from '../../proxy/src/backends/attach/kube-errors.ts';
import { describeProcessChange, processIdentity, viewPod } from '../../proxy/src/backends/attach/pod-view.ts';
import { selectPod } from '../../proxy/src/backends/attach/pod-watch.ts';
import type { Clock } from '../../proxy/src/backends/types.ts';

function pod(uid: string, state: Record<string, unknown>, extra: { containerID?: string; restartCount?: number; deleting?: boolean; name?: string } = {}): V1Pod {
  return {
    metadata: { name: extra.name ?? 'fetch-0', uid, ...(extra.deleting ? { deletionTimestamp: new Date() } : {}) },
    status: { containerStatuses: [{
      name: 'mcp', image: 'x', imageID: '', ready: true, restartCount: extra.restartCount ?? 0,
      ...(extra.containerID ? { containerID: extra.containerID } : {}), state,
    }] },
  } as V1Pod;
}
const running = { running: { startedAt: new Date() } };

describe('pod view', () => {
  const was = processIdentity(viewPod(pod('u1', running, { containerID: 'c1' }), 'mcp'))!;

  test('the same process is no change', () => {
    expect(describeProcessChange(was, viewPod(pod('u1', running, { containerID: 'c1' }), 'mcp'), 'mcp')).toBeUndefined();
  });

  test('names each way a process goes away', () => {
    const change = (p: V1Pod | undefined) => describeProcessChange(was, p && viewPod(p, 'mcp'), 'mcp');
    expect(change(pod('u1', running, { containerID: 'c2', restartCount: 2 }))).toBe('container mcp restarted (restartCount 2)');
    expect(change(pod('u1', { terminated: { exitCode: 137, reason: 'Error' } }))).toBe('container mcp terminated (exit code 137, Error)');
    expect(change(pod('u1', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 3 }))).toBe('container mcp is waiting (CrashLoopBackOff, restartCount 3)');
    expect(change(pod('u2', running, { containerID: 'c9' }))).toBe('pod fetch-0 was replaced by fetch-0 (uid u2)');
    expect(change(pod('u1', running, { containerID: 'c1', deleting: true }))).toBe('pod fetch-0 is being deleted');
    expect(change(undefined)).toBe('pod fetch-0 was deleted');
  });

  test('a container without a containerID is not attachable yet', () => {
    expect(processIdentity(viewPod(pod('u1', running), 'mcp'))).toBeUndefined();
  });

  test('selection keeps the pod in use, else prefers a running one, never a deleting one', () => {
    const views = [
      viewPod(pod('old', running, { containerID: 'c0', deleting: true, name: 'a' }), 'mcp'),
      viewPod(pod('pending', { waiting: { reason: 'ContainerCreating' } }, { name: 'b' }), 'mcp'),
      viewPod(pod('live', running, { containerID: 'c1', name: 'c' }), 'mcp'),
    ];
    expect(selectPod(views, 'pending')?.uid).toBe('pending');
    expect(selectPod(views, undefined)?.uid).toBe('live');
    expect(selectPod(views.slice(0, 1), 'old')?.uid).toBe('old');
  });
});

describe('API failures', () => {
  test('a 403 names the missing permission and keeps the apiserver message', () => {
    const body = JSON.stringify({ kind: 'Status', message: 'pods "fetch-0" is forbidden: User "x" cannot watch resource "pods"', code: 403 });
    const failure = describeApiFailure({ verb: 'watch', resource: 'pods', namespace: 'ns', name: 'fetch-0', note: 'fieldSelector=metadata.name=fetch-0' }, undefined, 403, body);
    expect(failure.missingPermission).toBe('watch pods "fetch-0" in namespace "ns" (fieldSelector=metadata.name=fetch-0)');
    expect(failure.message).toBe(`403 Forbidden: missing permission ${failure.missingPermission}: pods "fetch-0" is forbidden: User "x" cannot watch resource "pods"`);
  });

  test('an ApiException without a Status body gives its one-line message, not its headers', () => {
    // What the library throws for a 401 on a GET: no body, the response headers in the message.
    const error = Object.assign(
      new Error('HTTP-Code: 401\nMessage: Unauthorized\nBody: undefined\nHeaders: {"content-type":"application/json","audit-id":"a1"}'),
      { code: 401, body: undefined },
    );
    const failure = describeApiFailure({ verb: 'get', resource: 'pods', namespace: 'ns', name: 'fetch-0' }, error);
    expect(failure).toEqual({ code: 401, message: "401 Unauthorized: the API server rejected the proxy's credentials: Unauthorized" });
    // A body that is no Status (a load balancer's page) is kept, on one line and cut short.
    const page = `<html>\n  <h1>502 Bad Gateway</h1>\n${'x'.repeat(300)}</html>`;
    const unknown = Object.assign(new Error(`HTTP-Code: 502\nMessage: Unknown API Status Code!\nBody: ${JSON.stringify(page)}\nHeaders: {}`), { code: 502, body: page });
    const excerpt = `<html> <h1>502 Bad Gateway</h1> ${'x'.repeat(300)}</html>`.slice(0, 200);
    expect(describeApiFailure({ verb: 'get', resource: 'pods', namespace: 'ns' }, unknown).message)
      .toBe(`502 Unknown API Status Code!: ${excerpt}…`);
  });

  test('a transport error carries its cause', () => {
    const error = Object.assign(new TypeError('fetch failed'), { cause: new Error('connect ECONNREFUSED 127.0.0.1:6443') });
    expect(describeApiFailure({ verb: 'get', resource: 'pods', namespace: 'ns' }, error).message).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:6443');
  });
});

/** A clock whose time moves only when the test says so. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; run: () => void }[] = [];
  return {
    now: () => now,
    setTimeout: (run, ms) => { const t = { at: now + ms, run }; timers.push(t); return t; },
    clearTimeout: (handle) => { timers = timers.filter((t) => t !== handle); },
    advance(ms) {
      const end = now + ms;
      for (let next = timers.sort((a, b) => a.at - b.at)[0]; next && next.at <= end; next = timers.sort((a, b) => a.at - b.at)[0]) {
        timers = timers.filter((t) => t !== next);
        now = next.at;
        next.run();
      }
      now = end;
    },
  };
}

describe('idle probe', () => {
  function probe() {
    const clock = manualClock();
    const sent: string[] = [];
    let pings = 0;
    const dead: string[] = [];
    const p = new IdleProbe({ idleMs: 1000, timeoutMs: 500, clock, send: (l) => sent.push(l), ping: () => { pings += 1; }, dead: (r) => dead.push(r) });
    p.start();
    return { clock, sent, dead, p, pings: () => pings };
  }

  test('probes only after idleMs of quiet, with an MCP ping and a WebSocket ping', () => {
    const { clock, sent, p, pings } = probe();
    clock.advance(800);
    p.received();
    clock.advance(800);
    expect(sent).toEqual([]);
    clock.advance(300);
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]!)).toMatchObject({ method: 'ping', id: expect.stringMatching(/^__toolhive_attach_probe_/) });
    expect(pings()).toBe(1);
  });

  test('the reply is taken out of the stream and the connection stays alive', () => {
    const { clock, sent, dead, p } = probe();
    clock.advance(1000);
    const id = (JSON.parse(sent[0]!) as { id: string }).id;
    expect(p.intercept(`{"jsonrpc":"2.0","id":"${id}","result":{}}`)).toBe(true);
    expect(p.intercept('{"jsonrpc":"2.0","id":7,"result":{}}')).toBe(false);
    clock.advance(600);
    expect(dead).toEqual([]);
  });

  test('a pong (or any stdout) is proof enough; silence is death', () => {
    const alive = probe();
    alive.clock.advance(1000);
    alive.p.received();
    alive.clock.advance(600);
    expect(alive.dead).toEqual([]);
    const silent = probe();
    silent.clock.advance(1500);
    expect(silent.dead).toHaveLength(1);
    expect(silent.dead[0]).toMatch(/no reply to an MCP or WebSocket ping within 500 ms/);
  });
});
