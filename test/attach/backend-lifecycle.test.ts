/**
 * The attach backend's lifecycle against the emulated API server, with a real server-everything
 * behind it: waiting for the pod, dropped connections, container restarts, replaced pods, 403s.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { startKubeApiEmulator, type KubeApiEmulator, type KubeApiEmulatorOptions } from '../support/kube-api-emulator/index.ts';
import { restartReasonLabel } from '../../proxy/src/telemetry/telemetry.ts';
import { waitFor } from '../support/proxy-harness.ts';
import { refusesFirstInitialize } from './containers.ts';
import { attachTestEnv, BackendHarness, isDown, isNewProcessUp, isUp } from './harness.ts';

jest.setTimeout(40_000);

const env = attachTestEnv();

async function setUp(options: KubeApiEmulatorOptions = {}, ...config: ConstructorParameters<typeof BackendHarness> extends [unknown, ...infer R] ? R : never): Promise<BackendHarness> {
  env.kube = await startKubeApiEmulator(options);
  env.harness = new BackendHarness(env.kube, ...config);
  return env.harness;
}

/**
 * A kubeconfig for `kube` whose user is an exec credential plugin, as with cloud or OIDC logins: a
 * real shell script that prints an ExecCredential with the emulator's token (already expired, so
 * the library runs it for every request), or fails like a plugin whose login has lapsed.
 */
async function credentialPlugin(kube: KubeApiEmulator): Promise<{ kubeconfig: string; fail(): Promise<void>; recover(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'credential-plugin-'));
  dirs.push(dir);
  const failFlag = join(dir, 'fail');
  const script = join(dir, 'credential-plugin.sh');
  const credential = JSON.stringify({
    apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential',
    status: { token: kube.token, expirationTimestamp: '2000-01-01T00:00:00Z' },
  });
  await writeFile(script, [
    '#!/bin/sh',
    `if [ -e '${failFlag}' ]; then echo "login required: run 'cloud auth login'" >&2; exit 1; fi`,
    `printf '%s' '${credential}'`,
  ].join('\n') + '\n', { mode: 0o755 });
  const config = JSON.parse(await readFile(kube.kubeconfigPath, 'utf8')) as { users: { user: unknown }[] };
  config.users[0]!.user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: script, args: [], interactiveMode: 'Never' } };
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, JSON.stringify(config), { mode: 0o600 });
  return { kubeconfig, fail: () => writeFile(failFlag, ''), recover: () => rm(failFlag) };
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Lets held watch events through (`faults.holdWatches`): no status follows them, and MCP still works. */
async function expectOldNewsIgnored(h: BackendHarness, catchUp: () => void): Promise<void> {
  const settled = h.statuses.length;
  catchUp();
  await waitFor(() => h.statuses.length > settled || h.logsMatching(/ignored$/).length > 0, 5_000, 'the held watch events');
  expect((await h.echo('after catch-up')).result).toMatchObject({ content: [{ text: 'Echo: after catch-up' }] });
  expect(h.statuses.slice(settled)).toEqual([]);
}

/**
 * Restarts the container while the pod watch lags (GET and LIST still answer with the pod as it is)
 * and checks that the re-attach, which the watch would place on the old container, is to the new
 * process. Returns where its statuses start and the function that lets the watch catch up.
 */
async function restartWhileWatchLags(h: BackendHarness): Promise<{ before: number; catchUp: () => void }> {
  const before = h.statuses.length;
  const catchUp = env.kube!.faults.holdWatches();
  await env.kube!.faults.killContainer();
  const up = await h.waitForStatus(isUp, before);
  expect(up).toMatchObject({ newProcess: true, detail: expect.stringContaining('restartCount 1') });
  return { before, catchUp };
}

describe('attach backend lifecycle', () => {
  test('waits while the container is being created, then attaches and carries MCP both ways', async () => {
    // GIVEN a pod that stays in ContainerCreating for a while
    const h = await setUp({ startDelayMs: 800 });
    // WHEN the backend starts
    const up = await h.start();
    // THEN it reported why it was not up, attached once the container ran, and MCP works
    expect(h.statuses[0]).toMatchObject({ state: 'down', reason: expect.stringMatching(/waiting \(ContainerCreating\)|no pod/) });
    expect(up).toMatchObject({ state: 'up', newProcess: true, detail: expect.stringContaining('everything-0') });
    expect((await h.echo('hello')).result).toMatchObject({ content: [{ type: 'text', text: 'Echo: hello' }] });
    expect(h.logsMatching(/^attach backend .* -> ready$/)).toHaveLength(1);
  });

  test('a dropped WebSocket re-attaches to the live process without a second initialize', async () => {
    const h = await setUp();
    await h.start();
    expect(env.kube!.initializeCount()).toBe(1);
    const before = h.statuses.length;
    // WHEN the connection drops abruptly while the process lives on
    expect(env.kube!.faults.dropAttachments()).toBe(1);
    // THEN down names the cause, and the re-attach is to the same process
    const down = await h.waitForStatus(isDown, before);
    expect(down.reason).toMatch(/attach connection lost \(close 1006\); output written while detached is lost/);
    const up = await h.waitForStatus(isUp, before);
    expect(up.newProcess).toBe(false);
    expect((await h.echo('after drop')).result).toMatchObject({ content: [{ text: 'Echo: after drop' }] });
    expect(env.kube!.initializeCount()).toBe(1);
    expect(env.kube!.pod().processes).toHaveLength(1);
  });

  test('a process whose handshake failed is initialized again after a re-attach, never used uninitialized', async () => {
    const h = await setUp({ command: refusesFirstInitialize() });
    const first = await h.start();
    expect(first.newProcess).toBe(true);
    // The first initialize was refused (start() ran it): the process is not initialized yet.
    expect(env.kube!.initializeCount()).toBe(1);
    let before = h.statuses.length;
    expect(env.kube!.faults.dropAttachments()).toBe(1);
    // THEN the re-attach to the same process asks for the handshake again: its output so far (an
    // error reply) proved nothing.
    const again = await h.waitForStatus(isUp, before);
    expect(again.newProcess).toBe(true);
    expect((await h.initialize()).result).toMatchObject({ serverInfo: { name: 'slow-start' } });
    expect((await h.request('tools/list')).result).toMatchObject({ initialized: true });
    // AND once the handshake succeeded, a later drop re-attaches without another one
    before = h.statuses.length;
    expect(env.kube!.faults.dropAttachments()).toBe(1);
    expect((await h.waitForStatus(isUp, before)).newProcess).toBe(false);
    expect(env.kube!.initializeCount()).toBe(2);
    expect(env.kube!.pod().processes).toHaveLength(1);
  });

  test('a killed container is reported down at once and its replacement is a new process', async () => {
    const h = await setUp();
    await h.start();
    const before = h.statuses.length;
    const killedAt = Date.now();
    // WHEN the container's process dies (the kubelet restarts it)
    await env.kube!.faults.killContainer();
    // THEN down comes well within 1 s, before the pod even shows the termination
    await h.waitForStatus(isDown, before);
    expect(Date.now() - killedAt).toBeLessThan(1000);
    // AND the restarted container is attached as a new process, which must be initialized again
    const up = await h.waitForStatus(isUp, before);
    expect(up).toMatchObject({ newProcess: true, detail: expect.stringContaining('restartCount 1') });
    await h.initialize();
    expect((await h.echo('restarted')).result).toMatchObject({ content: [{ text: 'Echo: restarted' }] });
    expect(env.kube!.initializeCount()).toBe(2);
  });

  test('a container that restarted while the pod watch lagged is attached as the new process it is', async () => {
    const h = await setUp();
    await h.start();
    // WHEN the container restarts while the watch lags, THEN the re-attach is to the new process
    const { catchUp } = await restartWhileWatchLags(h);
    expect(h.logsMatching(/pod watch is behind/)).toHaveLength(1);
    await h.initialize();
    expect(env.kube!.initializeCount()).toBe(2);
    // AND when the watch catches up with what happened, its old news changes nothing
    await expectOldNewsIgnored(h, catchUp);
    expect(env.kube!.initializeCount()).toBe(2);
  });

  test('a pod that cannot be read while the watch lags is judged by the watch, and the backend still ends on the live process', async () => {
    const h = await setUp();
    await h.start();
    // GIVEN a pod replaced under its name while the watch lags, its new process attached and initialized
    const catchUp = env.kube!.faults.holdWatches();
    let before = h.statuses.length;
    await env.kube!.faults.replacePod();
    await h.waitForStatus(isNewProcessUp, before);
    await h.initialize();
    before = h.statuses.length;
    // WHEN the pod can no longer be read and the watch brings only its oldest held event
    env.kube!.faults.forbid('get', 'pods');
    catchUp(1);
    // THEN the backend says it goes by the watch, and why it could not read the pod
    await waitFor(() => h.logsMatching(/^could not read the pod; going by the pod watch, which may be behind$/).length > 0, 5_000, 'the warning');
    expect(h.logsMatching(/^could not read the pod/)[0]!.error).toMatch(/^403 Forbidden: missing permission get pods "everything-0" in namespace "mcp-servers": /);
    // AND the watch, which shows the pod deleted, decides: the one loss a lagging watch and a failed
    // read together can cost (the attached process lives on)
    const down = await h.waitForStatus(isDown, before);
    expect(down.reason).toMatch(/^pod everything-0 was deleted/);
    // AND once the pod can be read and the watch has caught up, the backend is attached to the
    // same, initialized process
    env.kube!.faults.allow('get', 'pods');
    catchUp();
    const up = await h.waitForStatus(isUp, before);
    expect(up.newProcess).toBe(false);
    expect((await h.echo('after the double fault')).result).toMatchObject({ content: [{ text: 'Echo: after the double fault' }] });
    expect(env.kube!.initializeCount()).toBe(2);
  });

  test('a pod replaced under the same name while the pod watch lagged is attached as a new process, once', async () => {
    const h = await setUp();
    const first = env.kube!.pod().object!.metadata.uid;
    await h.start();
    const before = h.statuses.length;
    // GIVEN a watch that falls behind
    const catchUp = env.kube!.faults.holdWatches();
    // WHEN the StatefulSet's pod is deleted and recreated under its name (a new uid)
    await env.kube!.faults.replacePod();
    const second = env.kube!.pod().object!.metadata.uid;
    expect(second).not.toBe(first);
    // THEN the loss is settled with its cause, and the re-attach is to a new process
    const up = await h.waitForStatus(isUp, before);
    expect(up.newProcess).toBe(true);
    expect(h.statuses.slice(before)).toContainEqual(expect.objectContaining({
      state: 'down', reason: expect.stringContaining(`pod everything-0 was replaced by everything-0 (uid ${second})`),
    }));
    await h.initialize();
    expect(env.kube!.initializeCount()).toBe(2);
    // AND the watch's late news of the deletion causes no second loss
    await expectOldNewsIgnored(h, catchUp);
  });

  test.each([
    {
      change: 'a container restarted', fault: (kube: KubeApiEmulator) => kube.faults.killContainer(),
      ignored: /^pod watch event older than the pod as last read: ignored$/,
    },
    {
      change: 'a pod replaced under its name', fault: (kube: KubeApiEmulator) => kube.faults.replacePod(),
      ignored: /^pod watch event about a pod already replaced: ignored$/,
    },
  ])('old news a lagging pod watch brings between attaches does not count a live process dead ($change)', async ({ fault, ignored }) => {
    const h = await setUp();
    await h.start();
    // GIVEN a new process (a restart or a new pod) found while the watch lagged, attached and initialized
    const catchUp = env.kube!.faults.holdWatches();
    let before = h.statuses.length;
    await fault(env.kube!);
    await h.waitForStatus(isNewProcessUp, before);
    await h.initialize();
    // WHEN its session ends like a dead process's would (Success, close 1000) while it lives on,
    before = h.statuses.length;
    expect(env.kube!.faults.closeAttachments()).toBe(1);
    const down = await h.waitForStatus(isDown, before);
    expect(down.provisional).toBe(true);
    // and, while the backend waits for the pod to tell, the watch catches up with the old
    // process's end and the new one's start
    catchUp();
    // THEN that old news settles nothing: the re-attach is to the live, initialized process, and
    // no `down` ever said it had died
    const up = await h.waitForStatus(isUp, before);
    expect(up.newProcess).toBe(false);
    expect(h.statuses.slice(before)).toEqual([down, up]);
    expect(h.logsMatching(ignored).length).toBeGreaterThan(0);
    expect((await h.echo('still the same process')).result).toMatchObject({ content: [{ text: 'Echo: still the same process' }] });
    expect(env.kube!.initializeCount()).toBe(2);
  });

  test('an attach that reaches a process the pod does not show running yet is not used', async () => {
    // GIVEN a kubelet whose status shows a restarted container running only 1.5 s after its
    // process starts
    const h = await setUp({ runningAfterMs: 1_500 }, {}, { exitConfirmMs: 200 });
    await h.start();
    // WHEN the container restarts while the watch lags (it still shows the first process running),
    // THEN the re-attach is to the new process
    const { before, catchUp } = await restartWhileWatchLags(h);
    // AND attaches that reached the new process while the pod still showed the old one terminated
    // were dropped unused: the one `up` came once the pod showed the new process running
    expect(h.statuses.slice(before).filter(isUp)).toHaveLength(1);
    expect(h.statuses.slice(before)).toContainEqual(expect.objectContaining({
      state: 'down', reason: expect.stringMatching(/^attach to pod everything-0 reached no running process: .*terminated/),
    }));
    // Nothing reached the new process before the attach that counts: not even the newline that
    // clears a partial line, which that attach sends first.
    const restarted = env.kube!.pod().processes[1]!;
    await waitFor(() => restarted.stdinLines > 0, 2_000, 'the newline of the attach that counts');
    expect(restarted.stdinLines).toBe(1);
    await h.initialize();
    expect((await h.echo('once running')).result).toMatchObject({ content: [{ text: 'Echo: once running' }] });
    expect(env.kube!.initializeCount()).toBe(2);
    await expectOldNewsIgnored(h, catchUp);
  });

  test('a replaced pod found by label selector is a new process, under its new name', async () => {
    const h = await setUp({ podName: 'everything-5f7c9-abcde' }, { pod: undefined, labelSelector: 'app.kubernetes.io/name=everything' });
    await h.start();
    const before = h.statuses.length;
    // WHEN the pod is deleted and a new one (new name, new uid) takes its place
    await env.kube!.faults.replacePod({ name: 'everything-5f7c9-xyz12', startDelayMs: 300 });
    // THEN down names the deletion, and the new pod is attached as a new process
    const down = await h.waitForStatus(isDown, before);
    expect(down.reason).toMatch(/pod everything-5f7c9-abcde (is being deleted|was deleted|was replaced)/);
    const up = await h.waitForStatus(isUp, before);
    expect(up).toMatchObject({ newProcess: true, detail: expect.stringContaining('everything-5f7c9-xyz12') });
    await h.initialize();
    expect((await h.echo('new pod')).result).toMatchObject({ content: [{ text: 'Echo: new pod' }] });
  });

  test('fails with 403 on attach: never up, the log names the missing permission, recovers once granted', async () => {
    // GIVEN RBAC without get on pods/attach
    env.kube = await startKubeApiEmulator();
    env.kube.faults.forbid('get', 'pods/attach');
    env.harness = new BackendHarness(env.kube);
    env.harness.backend.start();
    // THEN the backend stays down with the permission in its reason and in an error log line
    const down = await env.harness.waitForStatus((s) => isDown(s) && /403/.test(s.reason));
    expect((down as { reason: string }).reason).toContain('403 Forbidden: missing permission get pods/attach "everything-0" in namespace "mcp-servers"');
    const logged = env.harness.logsMatching(/attach forbidden: missing permission/);
    expect(logged[0]).toMatchObject({
      level: 'error', missingPermission: 'get pods/attach "everything-0" in namespace "mcp-servers"',
      permission: { verb: 'get', resource: 'pods', subresource: 'attach', namespace: 'mcp-servers', name: 'everything-0' },
    });
    expect(String(logged[0]!.error)).toContain('cannot get resource "pods/attach"');
    expect(env.harness.statuses.some(isUp)).toBe(false);
    // WHEN the permission is granted, the backend recovers on its own
    env.kube.faults.allow('get', 'pods/attach');
    await env.harness.waitForStatus(isUp);
  });

  test('fails with 403 on create pods/attach (how 1.35 authorizes an attach): the log names create, not get', async () => {
    env.kube = await startKubeApiEmulator();
    env.kube.faults.forbid('create', 'pods/attach');
    env.harness = new BackendHarness(env.kube);
    env.harness.backend.start();
    const down = await env.harness.waitForStatus((s) => isDown(s) && /403/.test(s.reason));
    expect((down as { reason: string }).reason).toContain('403 Forbidden: missing permission create pods/attach "everything-0" in namespace "mcp-servers"');
    expect(env.harness.logsMatching(/attach forbidden: missing permission/)[0]).toMatchObject({
      missingPermission: 'create pods/attach "everything-0" in namespace "mcp-servers"', permission: { verb: 'create' },
    });
  });

  test('fails with 403 on a namespace-wide pod list when RBAC is limited by resourceNames', async () => {
    // GIVEN RBAC limited to the pod's name, and a config that selects by label
    const h = await setUp({ resourceNamesOnly: true }, { pod: undefined, labelSelector: 'app.kubernetes.io/name=everything' });
    h.backend.start();
    const down = await h.waitForStatus((s) => isDown(s) && /403/.test(s.reason));
    expect((down as { reason: string }).reason).toMatch(/missing permission list pods in namespace "mcp-servers"/);
    expect(h.logsMatching(/pod watch forbidden/)[0]).toMatchObject({ level: 'error', missingPermission: expect.stringContaining('list pods') });
  });

  test('a named pod that does not exist yet: down says so, then it is attached once created', async () => {
    // GIVEN a config naming a pod the namespace does not have (the GET answers 404)
    const h = await setUp({}, { pod: 'everything-1' });
    h.backend.start();
    // THEN the backend says so instead of staying silent
    const down = await h.waitForStatus(isDown);
    expect(down.reason).toBe('no pod everything-1 found');
    // WHEN the pod is created, the watch reports it and the backend attaches
    await env.kube!.faults.replacePod({ name: 'everything-1' });
    const up = await h.waitForStatus(isUp);
    expect(up).toMatchObject({ newProcess: true, detail: expect.stringContaining('everything-1') });
  });

  test('a kubeconfig credential plugin that fails on a watch reconnect: logged, retried, the watch comes back', async () => {
    // GIVEN a kubeconfig whose user is an exec credential plugin (a real script; no cached token)
    env.kube = await startKubeApiEmulator();
    const plugin = await credentialPlugin(env.kube);
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => { rejections.push(reason); };
    process.on('unhandledRejection', onRejection);
    try {
      const h = env.harness = new BackendHarness(env.kube, { kubeconfig: plugin.kubeconfig });
      await h.start();
      // WHEN the plugin starts failing and the apiserver ends the watch (its watch timeout)
      await plugin.fail();
      expect(env.kube.faults.endWatches()).toBe(1);
      // THEN the failed reconnect is one more watch failure: logged with the plugin's message, retried
      await waitFor(() => h.logsMatching(/^pod watch failed$/).length >= 2, 15_000, 'two failed watch attempts');
      expect(h.logsMatching(/^pod watch failed$/)[0]).toMatchObject({ level: 'warn', error: "login required: run 'cloud auth login'" });
      // AND once the plugin works again the watch is back: a container restart is seen as a new process
      await plugin.recover();
      await waitFor(() => env.kube!.openWatches() === 1, 15_000, 'the pod watch to reopen');
      const before = h.statuses.length;
      await env.kube.faults.killContainer();
      const up = await h.waitForStatus(isNewProcessUp, before);
      expect(up.detail).toContain('restartCount 1');
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  test('a pod unchanged for longer than the watch window: the watch resumes from now, and a restart is seen at once', async () => {
    const h = await setUp();
    await h.start();
    // GIVEN the rest of the cluster moved the apiserver's watch window past this pod's last change
    env.kube!.faults.churn(1_100);
    // WHEN the apiserver ends the watch (its timeout) and the backend resumes it from what it saw last
    expect(env.kube!.faults.endWatches()).toBe(1);
    await waitFor(() => env.kube!.goneWatches() === 1, 5_000, 'the resumed watch refused (410 Gone)');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    // THEN one 410 is all it takes: the pod is read again and watched from now, not from its own
    // (still too old) resourceVersion again, which would only poll the pod with growing delays
    expect(env.kube!.goneWatches()).toBe(1);
    expect(env.kube!.openWatches()).toBe(1);
    // AND a container restart is seen through the watch: the process after it is a new one
    const before = h.statuses.length;
    await env.kube!.faults.killContainer();
    const up = await h.waitForStatus(isNewProcessUp, before);
    expect(up.detail).toContain('restartCount 1');
  });

  test('a named pod needs only get and watch, limited by resourceNames (watched with a fieldSelector)', async () => {
    const h = await setUp({ resourceNamesOnly: true });
    env.kube!.faults.forbid('list', 'pods');
    await h.start();
    expect((await h.echo('pinned')).result).toMatchObject({ content: [{ text: 'Echo: pinned' }] });
  });

  test('a half-open connection is detected by the idle probe and re-attached without re-initializing', async () => {
    const h = await setUp({}, { idleProbeMs: 300 }, { probeTimeoutMs: 300 });
    await h.start();
    const before = h.statuses.length;
    // WHEN the connection silently stops passing traffic (no close reaches the proxy)
    env.kube!.faults.stallAttachments();
    // THEN the probe notices, and the backend re-attaches to the same process
    const down = await h.waitForStatus(isDown, before);
    expect(down.reason).toMatch(/no reply to an MCP or WebSocket ping within 300 ms/);
    const up = await h.waitForStatus(isUp, before);
    expect(up.newProcess).toBe(false);
    expect((await h.echo('probed')).result).toMatchObject({ content: [{ text: 'Echo: probed' }] });
    expect(env.kube!.initializeCount()).toBe(1);
  });

  test('a half-open connection is detected while clients keep writing (writes are no proof of life)', async () => {
    const h = await setUp({}, { idleProbeMs: 300 }, { probeTimeoutMs: 300 });
    await h.start();
    const before = h.statuses.length;
    env.kube!.faults.stallAttachments();
    // WHEN requests keep going out every 100 ms and nothing comes back
    let sent = 0;
    const writer = setInterval(() => { if (h.backend.send(JSON.stringify({ jsonrpc: '2.0', id: `w${sent}`, method: 'ping' }))) sent += 1; }, 100);
    try {
      const down = await h.waitForStatus(isDown, before);
      expect(down.reason).toMatch(/no reply to an MCP or WebSocket ping within 300 ms/);
      expect(sent).toBeGreaterThan(3);
    } finally {
      clearInterval(writer);
    }
    expect((await h.waitForStatus(isUp, before)).newProcess).toBe(false);
  });

  test('a server that stopped reading its stdin for longer than the probe allows is named as a possible cause', async () => {
    const h = await setUp({}, { idleProbeMs: 300 }, { probeTimeoutMs: 300 });
    await h.start();
    const before = h.statuses.length;
    // GIVEN a stopped process and more for its stdin than the pipe and the TCP buffers take
    const thaw = env.kube!.faults.freezeContainer();
    try {
      const line = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/padding', params: { pad: 'p'.repeat(1024 * 1024) } });
      for (let i = 0; h.backend.stdinBacklog() < 1024 * 1024; i++) {
        if (i > 100) throw new Error('stdin never backed up');
        h.backend.send(line);
        // (what a write leaves counted until its callback is not backlog yet)
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // THEN the probe cannot tell it from a dead connection, and says so
      const down = await h.waitForStatus(isDown, before);
      expect(down.reason).toMatch(/no reply to an MCP or WebSocket ping within 300 ms: the attach connection is presumed dead, or the server stopped reading its stdin \(\d+ bytes for it were waiting\)/);
      // AND the restart is counted as the server's, not the network's
      expect(restartReasonLabel(down.reason!)).toBe('stdin_stalled');
    } finally {
      thaw();
    }
    // AND once it reads again, the same process is attached again, not re-initialized
    expect((await h.waitForStatus(isUp, before)).newProcess).toBe(false);
    expect((await h.echo('thawed')).result).toMatchObject({ content: [{ text: 'Echo: thawed' }] });
    expect(env.kube!.initializeCount()).toBe(1);
  });

  test('a live connection to a server too busy to answer a ping is not declared dead', async () => {
    // GIVEN a process that reads stdin and never answers, and aggressive probing
    const h = await setUp({ command: { command: process.execPath, args: ['-e', 'process.stdin.resume()'] } }, { idleProbeMs: 150 }, { probeTimeoutMs: 150 });
    h.backend.start();
    await h.waitForStatus(isUp);
    const before = h.statuses.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // THEN the WebSocket pongs keep it up
    expect(h.statuses.slice(before)).toEqual([]);
  });

  test('idle probes keep a v4 session alive through the kubelet streaming idle timeout', async () => {
    // GIVEN a kubelet that closes v4 streams idle for 600 ms, and probes every 200 ms
    const h = await setUp({ v4IdleTimeoutMs: 600 }, { idleProbeMs: 200 });
    await h.start();
    const before = h.statuses.length;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // THEN the session was never lost
    expect(h.statuses.slice(before)).toEqual([]);
    expect(env.kube!.attachSessions()).toHaveLength(1);
  });

  test('without idle probes the kubelet closes an idle v4 session, and the backend re-attaches (control)', async () => {
    const h = await setUp({ v4IdleTimeoutMs: 600 }, { idleProbeMs: 0 });
    await h.start();
    const before = h.statuses.length;
    const down = await h.waitForStatus(isDown, before);
    expect(down.reason).toMatch(/close 1006/);
    expect((await h.waitForStatus(isUp, before)).newProcess).toBe(false);
  });

  test('stop() detaches without ending the process (no EOF, no close-stdin frame)', async () => {
    const h = await setUp({}, { protocol: 'v5' });
    await h.start();
    const process = env.kube!.pod().process!;
    await h.stop();
    env.harness = undefined;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(process.running).toBe(true);
    expect(env.kube!.attachSessions()).toHaveLength(0);
  });
});
