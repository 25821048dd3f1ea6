/**
 * The ambiguous cases of attach liveness: a normal close and a dead process look the same on the
 * wire (status Success, close 1000), and the pod status lags the process's death. The backend must
 * neither re-initialize a live process nor talk to a dead one as if it were alive.
 */
import { describe, expect, jest, test } from '@jest/globals';
import { startKubeApiEmulator } from '../support/kube-api-emulator/index.ts';
import { attachTestEnv, BackendHarness, isDown, isNewProcessUp, isUp } from './harness.ts';

jest.setTimeout(40_000);

const env = attachTestEnv();

describe('attach backend liveness', () => {
  test('a normal close of a live process: waits for the pod, then re-attaches without re-initializing', async () => {
    env.kube = await startKubeApiEmulator();
    env.harness = new BackendHarness(env.kube, {}, { exitConfirmMs: 600 });
    await env.harness.start();
    const before = env.harness.statuses.length;
    // WHEN the API server ends the session normally while the process lives on
    const closedAt = Date.now();
    expect(env.kube.faults.closeAttachments()).toBe(1);
    // THEN down at once, and the re-attach comes only after the pod had time to show a death
    await env.harness.waitForStatus(isDown, before);
    const up = await env.harness.waitForStatus(isUp, before);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(550);
    expect(up.newProcess).toBe(false);
    expect(env.harness.logsMatching(/process still running after a normal-looking close/)).toHaveLength(1);
    // AND the loss stayed provisional: no cause was named, the same process came back
    const downs = env.harness.statuses.slice(before).filter(isDown);
    expect(downs.length).toBeGreaterThanOrEqual(1);
    for (const down of downs) expect(down).toMatchObject({ provisional: true });
    expect((await env.harness.echo('same process')).result).toMatchObject({ content: [{ text: 'Echo: same process' }] });
    expect(env.kube.initializeCount()).toBe(1);
  });

  test.each(['v4', 'v5'] as const)('a pod status that lags the death: re-attaching to the dead container fails (%s), then the new one is initialized once', async (protocol) => {
    // GIVEN a kubelet slow to report the death, and a backend that stops waiting for it early
    env.kube = await startKubeApiEmulator({ terminatedAfterMs: 2500, restartAfterMs: 200 });
    env.harness = new BackendHarness(env.kube, { protocol }, { exitConfirmMs: 300 });
    await env.harness.start();
    const before = env.harness.statuses.length;
    // WHEN the process dies
    await env.kube.faults.killContainer();
    // THEN attaching to the dead container is refused as the real API server does...
    const refused = protocol === 'v4' ? /500 container mcp not found/ : /status Failure: container mcp not found/;
    await env.harness.waitForStatus((s) => isDown(s) && refused.test(s.reason), before);
    // ...and once the pod shows the restart, the new process is attached and initialized
    const up = await env.harness.waitForStatus(isNewProcessUp, before);
    expect(up.detail).toContain('restartCount 1');
    // AND the dead container was never reported up (v5 upgrades first: the backend held `up`)
    expect(env.harness.statuses.slice(before).filter(isUp)).toEqual([up]);
    // AND every down was provisional until one named the cause the pod showed, before the new `up`
    const statuses = env.harness.statuses.slice(before, env.harness.statuses.indexOf(up));
    const settling = statuses.findIndex((s) => isDown(s) && !s.provisional);
    expect(statuses[settling]).toEqual({ state: 'down', reason: expect.stringMatching(/^container mcp (terminated \(exit code 137|restarted \(restartCount 1\))/) });
    expect(statuses.slice(0, settling).every((s) => isDown(s) && s.provisional)).toBe(true);
    await env.harness.initialize();
    expect((await env.harness.echo('recovered')).result).toMatchObject({ content: [{ text: 'Echo: recovered' }] });
    expect(env.kube.initializeCount()).toBe(2);
  });

  test('failed attempts back off exponentially up to the cap', async () => {
    env.kube = await startKubeApiEmulator();
    env.kube.faults.forbid('get', 'pods/attach');
    env.harness = new BackendHarness(env.kube, { reconnect: { initialDelayMs: 40, maxDelayMs: 320 } });
    env.harness.backend.start();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const delays = env.harness.logsMatching(/-> backing-off$/).map((l) => Number(l.delayMs));
    // Each delay is drawn from [d/2, d] with d = min(320, 40·2ⁿ).
    delays.forEach((delay, n) => {
      const nominal = Math.min(320, 40 * 2 ** n);
      expect(delay).toBeGreaterThanOrEqual(nominal / 2 - 1);
      expect(delay).toBeLessThanOrEqual(nominal + 1);
    });
    expect(delays.length).toBeGreaterThanOrEqual(5);
    expect(delays.length).toBeLessThan(20);
    // One down per distinct cause, not one per attempt.
    expect(env.harness.statuses.filter((s) => isDown(s) && /403/.test(s.reason))).toHaveLength(1);
  });
});
