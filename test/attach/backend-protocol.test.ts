/**
 * The attach backend's wire behaviour: subprotocol choice and fallback, stdout lines split across
 * frames, stdin coalescing, stderr kept out of the JSON stream, the partial-line guard.
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { opensslAvailable, startKubeApiEmulator, type KubeApiEmulator } from '../support/kube-api-emulator/index.ts';
import { lineEcho } from './containers.ts';
import { BackendHarness, isDown, isNewProcessUp, isUp } from './harness.ts';

jest.setTimeout(40_000);

let kube: KubeApiEmulator | undefined;
let harness: BackendHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  await kube?.stop();
  harness = undefined;
  kube = undefined;
});

describe('attach backend protocol', () => {
  test('a v4-only API server works', async () => {
    kube = await startKubeApiEmulator({ protocols: ['v4'] });
    harness = new BackendHarness(kube);
    const up = await harness.start();
    expect(up.detail).toContain('v4.channel.k8s.io');
    expect((await harness.echo('v4')).result).toMatchObject({ content: [{ text: 'Echo: v4' }] });
  });

  // A real apiserver is HTTPS with a cluster CA: the watch (undici) and the attach (ws) must both
  // verify it from the kubeconfig. Skipped where the `openssl` CLI is missing.
  (opensslAvailable() ? test : test.skip)('an HTTPS API server verified against the kubeconfig CA works', async () => {
    kube = await startKubeApiEmulator({ tls: true });
    expect(kube.server).toMatch(/^https:/);
    harness = new BackendHarness(kube);
    await harness.start();
    expect((await harness.echo('tls')).result).toMatchObject({ content: [{ text: 'Echo: tls' }] });
    await kube.faults.killContainer();
    const up = await harness.waitForStatus(isNewProcessUp, harness.statuses.length);
    expect(up.detail).toContain('restartCount 1');
    await harness.stop();
    // AND without the CA in the kubeconfig the server is not trusted, and the reason says so
    const config = JSON.parse(readFileSync(kube.kubeconfigPath, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
    delete config.clusters[0]!.cluster['certificate-authority-data'];
    writeFileSync(`${kube.kubeconfigPath}-without-ca`, JSON.stringify(config));
    harness = new BackendHarness(kube, { kubeconfig: `${kube.kubeconfigPath}-without-ca` });
    harness.backend.start();
    const down = await harness.waitForStatus(isDown);
    expect((down as { reason: string }).reason).toMatch(/self-signed certificate/);
  });

  test('auto falls back to v5 when the server refuses v4', async () => {
    kube = await startKubeApiEmulator({ protocols: ['v5'] });
    harness = new BackendHarness(kube, { protocol: 'auto' });
    const up = await harness.start();
    expect(up.detail).toContain('v5.channel.k8s.io');
    expect(harness.logsMatching(/subprotocol refused/)[0]).toMatchObject({ refused: 'v4.channel.k8s.io', next: 'v5.channel.k8s.io' });
    expect((await harness.echo('v5')).result).toMatchObject({ content: [{ text: 'Echo: v5' }] });
  });

  test('auto offers v4 alone first; v5 when configured', async () => {
    kube = await startKubeApiEmulator();
    harness = new BackendHarness(kube, { protocol: 'v5' });
    await harness.start();
    expect(kube.negotiatedProtocols()).toEqual(['v5.channel.k8s.io']);
    await harness.stop();
    harness = new BackendHarness(kube, { protocol: 'auto' });
    expect((await harness.start()).newProcess).toBe(true);
    expect(kube.negotiatedProtocols()).toEqual(['v5.channel.k8s.io', 'v4.channel.k8s.io']);
  });

  test('fails to come up with v4 forced on a v5-only server, saying why', async () => {
    kube = await startKubeApiEmulator({ protocols: ['v5'] });
    harness = new BackendHarness(kube, { protocol: 'v4' });
    harness.backend.start();
    const down = await harness.waitForStatus((s) => isDown(s) && /attach to pod/.test(s.reason));
    expect((down as { reason: string }).reason).toMatch(/400 requested protocol\(s\) are not supported/);
    expect(harness.statuses.some(isUp)).toBe(false);
  });

  test('a 200 KB reply spanning many 32 KiB frames arrives as one message', async () => {
    kube = await startKubeApiEmulator();
    harness = new BackendHarness(kube);
    await harness.start();
    const big = 'x'.repeat(200_000);
    const reply = await harness.echo(big);
    expect((reply.result as { content: { text: string }[] }).content[0]!.text).toBe(`Echo: ${big}`);
  });

  test('200 concurrent requests each get their own reply', async () => {
    kube = await startKubeApiEmulator();
    harness = new BackendHarness(kube);
    await harness.start();
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => harness!.echo(`payload-${i}`)));
    replies.forEach((reply, i) => expect(reply.result).toMatchObject({ content: [{ text: `Echo: payload-${i}` }] }));
  });

  test('stderr goes to the logs, never into the message stream', async () => {
    kube = await startKubeApiEmulator({ command: lineEcho() });
    harness = new BackendHarness(kube);
    const messages: string[] = [];
    harness.backend.onMessage((line) => messages.push(line));
    harness.backend.start();
    await harness.waitForStatus(isUp);
    harness.backend.send('{"jsonrpc":"2.0","method":"notifications/x"}');
    for (let i = 0; i < 50 && harness.logsMatching(/server stderr/).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    // The lone "\n" written on attach is the 0-char line; the echoed empty line is not a message.
    expect(messages).toEqual(['{"jsonrpc":"2.0","method":"notifications/x"}']);
    expect(harness.logsMatching(/server stderr/).map((l) => l.stderr)).toEqual(['stderr: line of 0 chars', 'stderr: line of 44 chars']);
  });

  test('a partial line left on stdin by an earlier attacher does not swallow the first request', async () => {
    kube = await startKubeApiEmulator();
    const process = await kube.waitForRunning();
    // GIVEN another attacher went away in the middle of a line
    const ws = new WebSocket(`${kube.server.replace('http', 'ws')}/api/v1/namespaces/${kube.namespace}/pods/${kube.podName()}/attach?container=mcp&stdin=true&stdout=true`,
      ['v4.channel.k8s.io'], { headers: { Authorization: `Bearer ${kube.token}` } });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(Buffer.concat([Buffer.of(0), Buffer.from('{"jsonrpc":"2.0","id":"half",')]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    ws.terminate();
    // WHEN the backend attaches and initializes
    harness = new BackendHarness(kube);
    await harness.start();
    // THEN the initialize went through (the lone "\n" ended the stray partial line first)
    expect(process.initializeCount).toBe(1);
    expect((await harness.echo('clean')).result).toMatchObject({ content: [{ text: 'Echo: clean' }] });
  });
});
