/**
 * The attach backend's wire behaviour: subprotocol choice and fallback, stdout lines split across
 * frames, stdin coalescing, stderr kept out of the JSON stream, the partial-line guard.
 */
import { describe, expect, jest, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { opensslAvailable, startKubeApiEmulator } from '../support/kube-api-emulator/index.ts';
import { lineEcho } from './containers.ts';
import { attachTestEnv, BackendHarness, isDown, isNewProcessUp, isUp } from './harness.ts';

jest.setTimeout(40_000);

const env = attachTestEnv();

describe('attach backend protocol', () => {
  test('a v4-only API server works', async () => {
    env.kube = await startKubeApiEmulator({ protocols: ['v4'] });
    env.harness = new BackendHarness(env.kube);
    const up = await env.harness.start();
    expect(up.detail).toContain('v4.channel.k8s.io');
    expect((await env.harness.echo('v4')).result).toMatchObject({ content: [{ text: 'Echo: v4' }] });
  });

  // A real apiserver is HTTPS with a cluster CA: the watch (undici) and the attach (ws) must both
  // verify it from the kubeconfig. Skipped where the `openssl` CLI is missing.
  (opensslAvailable() ? test : test.skip)('an HTTPS API server verified against the kubeconfig CA works', async () => {
    env.kube = await startKubeApiEmulator({ tls: true });
    expect(env.kube.server).toMatch(/^https:/);
    env.harness = new BackendHarness(env.kube);
    await env.harness.start();
    expect((await env.harness.echo('tls')).result).toMatchObject({ content: [{ text: 'Echo: tls' }] });
    await env.kube.faults.killContainer();
    const up = await env.harness.waitForStatus(isNewProcessUp, env.harness.statuses.length);
    expect(up.detail).toContain('restartCount 1');
    await env.harness.stop();
    // AND without the CA in the kubeconfig the server is not trusted, and the reason says so
    const config = JSON.parse(readFileSync(env.kube.kubeconfigPath, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
    delete config.clusters[0]!.cluster['certificate-authority-data'];
    writeFileSync(`${env.kube.kubeconfigPath}-without-ca`, JSON.stringify(config));
    env.harness = new BackendHarness(env.kube, { kubeconfig: `${env.kube.kubeconfigPath}-without-ca` });
    env.harness.backend.start();
    const down = await env.harness.waitForStatus(isDown);
    expect((down as { reason: string }).reason).toMatch(/self-signed certificate/);
  });

  test('auto falls back to v5 when the server refuses v4', async () => {
    env.kube = await startKubeApiEmulator({ protocols: ['v5'] });
    env.harness = new BackendHarness(env.kube, { protocol: 'auto' });
    const up = await env.harness.start();
    expect(up.detail).toContain('v5.channel.k8s.io');
    expect(env.harness.logsMatching(/subprotocol refused/)[0]).toMatchObject({ refused: 'v4.channel.k8s.io', next: 'v5.channel.k8s.io' });
    expect((await env.harness.echo('v5')).result).toMatchObject({ content: [{ text: 'Echo: v5' }] });
  });

  test('auto offers v4 alone first; v5 when configured', async () => {
    env.kube = await startKubeApiEmulator();
    env.harness = new BackendHarness(env.kube, { protocol: 'v5' });
    await env.harness.start();
    expect(env.kube.negotiatedProtocols()).toEqual(['v5.channel.k8s.io']);
    await env.harness.stop();
    env.harness = new BackendHarness(env.kube, { protocol: 'auto' });
    expect((await env.harness.start()).newProcess).toBe(true);
    expect(env.kube.negotiatedProtocols()).toEqual(['v5.channel.k8s.io', 'v4.channel.k8s.io']);
  });

  test('fails to come up with v4 forced on a v5-only server, saying why', async () => {
    env.kube = await startKubeApiEmulator({ protocols: ['v5'] });
    env.harness = new BackendHarness(env.kube, { protocol: 'v4' });
    env.harness.backend.start();
    const down = await env.harness.waitForStatus((s) => isDown(s) && /attach to pod/.test(s.reason));
    expect((down as { reason: string }).reason).toMatch(/400 requested protocol\(s\) are not supported/);
    expect(env.harness.statuses.some(isUp)).toBe(false);
  });

  test('a 200 KB reply spanning many 32 KiB frames arrives as one message', async () => {
    env.kube = await startKubeApiEmulator();
    env.harness = new BackendHarness(env.kube);
    await env.harness.start();
    const big = 'x'.repeat(200_000);
    const reply = await env.harness.echo(big);
    expect((reply.result as { content: { text: string }[] }).content[0]!.text).toBe(`Echo: ${big}`);
  });

  test('200 concurrent requests each get their own reply', async () => {
    env.kube = await startKubeApiEmulator();
    env.harness = new BackendHarness(env.kube);
    await env.harness.start();
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => env.harness!.echo(`payload-${i}`)));
    replies.forEach((reply, i) => expect(reply.result).toMatchObject({ content: [{ text: `Echo: payload-${i}` }] }));
  });

  test('stderr goes to the logs, never into the message stream', async () => {
    env.kube = await startKubeApiEmulator({ command: lineEcho() });
    env.harness = new BackendHarness(env.kube);
    const messages: string[] = [];
    env.harness.backend.onMessage((line) => messages.push(line));
    env.harness.backend.start();
    await env.harness.waitForStatus(isUp);
    env.harness.backend.send('{"jsonrpc":"2.0","method":"notifications/x"}');
    for (let i = 0; i < 50 && env.harness.logsMatching(/server stderr/).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    // The lone "\n" written on attach is the 0-char line; the echoed empty line is not a message.
    expect(messages).toEqual(['{"jsonrpc":"2.0","method":"notifications/x"}']);
    expect(env.harness.logsMatching(/server stderr/).map((l) => l.stderr)).toEqual(['stderr: line of 0 chars', 'stderr: line of 44 chars']);
  });

  test('a partial line left on stdin by an earlier attacher does not swallow the first request', async () => {
    env.kube = await startKubeApiEmulator();
    const process = await env.kube.waitForRunning();
    // GIVEN another attacher went away in the middle of a line
    const ws = new WebSocket(`${env.kube.server.replace('http', 'ws')}/api/v1/namespaces/${env.kube.namespace}/pods/${env.kube.podName()}/attach?container=mcp&stdin=true&stdout=true`,
      ['v4.channel.k8s.io'], { headers: { Authorization: `Bearer ${env.kube.token}` } });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(Buffer.concat([Buffer.of(0), Buffer.from('{"jsonrpc":"2.0","id":"half",')]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    ws.terminate();
    // WHEN the backend attaches and initializes
    env.harness = new BackendHarness(env.kube);
    await env.harness.start();
    // THEN the initialize went through (the lone "\n" ended the stray partial line first)
    expect(process.initializeCount).toBe(1);
    expect((await env.harness.echo('clean')).result).toMatchObject({ content: [{ text: 'Echo: clean' }] });
  });
});
