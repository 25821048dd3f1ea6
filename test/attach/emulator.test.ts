/**
 * The API emulator reproduces what a real cluster does (shared/docs/ATTACH.md), checked with a
 * raw WebSocket client and @kubernetes/client-node's own Watch: if the emulator drifted from the
 * real protocol, the backend's tests would prove nothing.
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { startKubeApiEmulator, type KubeApiEmulator } from '../support/kube-api-emulator/index.ts';
import { lineEcho } from './containers.ts';

jest.setTimeout(30_000);

let kube: KubeApiEmulator | undefined;
afterEach(async () => {
  await kube?.stop();
  kube = undefined;
});

interface RawAttach {
  readonly ws: WebSocket;
  readonly frames: { channel: number; data: Buffer }[];
  readonly closed: Promise<number>;
  stdin(text: string): void;
}

function rawAttach(k: KubeApiEmulator, protocol: string, token = k.token): Promise<RawAttach> {
  const url = `${k.server.replace('http', 'ws')}/api/v1/namespaces/${k.namespace}/pods/${k.podName()}/attach?container=mcp&stdin=true&stdout=true&stderr=true`;
  const ws = new WebSocket(url, [protocol], { headers: { Authorization: `Bearer ${token}` } });
  const frames: RawAttach['frames'] = [];
  ws.on('message', (data: Buffer) => frames.push({ channel: data[0]!, data: data.subarray(1) }));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => { body += chunk; });
      res.on('end', () => reject(Object.assign(new Error(body), { statusCode: res.statusCode })));
    });
    ws.on('error', reject);
    ws.on('open', () => resolve({
      ws, frames, closed,
      stdin: (text) => ws.send(Buffer.concat([Buffer.of(0), Buffer.from(text)])),
    }));
  });
}

const stdoutText = (a: RawAttach): string => a.frames.filter((f) => f.channel === 1).map((f) => f.data.toString()).join('');
const until = async (check: () => boolean, ms = 5000): Promise<void> => {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error('condition not met in time');
  }
};

describe('kube API emulator', () => {
  test('several attachers all receive stdout, and their stdin is one pipe', async () => {
    kube = await startKubeApiEmulator({ command: lineEcho() });
    await kube.waitForRunning();
    const a = await rawAttach(kube, 'v5.channel.k8s.io');
    const b = await rawAttach(kube, 'v4.channel.k8s.io');
    a.stdin('from-a\n');
    b.stdin('from-b\n');
    await until(() => stdoutText(a).includes('from-b') && stdoutText(b).includes('from-a'));
    expect(a.ws.protocol).toBe('v5.channel.k8s.io');
    expect(b.ws.protocol).toBe('v4.channel.k8s.io');
  });

  test('output written while nobody is attached is lost', async () => {
    kube = await startKubeApiEmulator({ command: lineEcho(300) });
    const process = await kube.waitForRunning();
    const a = await rawAttach(kube, 'v4.channel.k8s.io');
    a.stdin('written-before-detach\n');
    a.ws.close();
    await a.closed;
    await until(() => process.droppedStdoutBytes > 0);
    const b = await rawAttach(kube, 'v4.channel.k8s.io');
    b.stdin('second\n');
    await until(() => stdoutText(b).includes('second'));
    expect(stdoutText(b)).toBe('second\n');
    expect(process.running).toBe(true);
  });

  test('stdout frames are at most 32,768 bytes', async () => {
    kube = await startKubeApiEmulator({ command: lineEcho() });
    await kube.waitForRunning();
    const a = await rawAttach(kube, 'v4.channel.k8s.io');
    a.stdin('y'.repeat(100_000) + '\n');
    await until(() => stdoutText(a).length >= 100_001);
    const sizes = a.frames.filter((f) => f.channel === 1).map((f) => f.data.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(32_768);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
  });

  test('a dead process ends the session like a normal close; the pod shows it later, then restarts', async () => {
    kube = await startKubeApiEmulator();
    const first = await kube.waitForRunning();
    const a = await rawAttach(kube, 'v5.channel.k8s.io');
    await kube.faults.killContainer();
    expect(await a.closed).toBe(1000);
    const status = a.frames.find((f) => f.channel === 3);
    // As the kubelet writes it (json.Marshal of status.Status()): no kind, no apiVersion.
    expect(JSON.parse(status!.data.toString())).toEqual({ metadata: {}, status: 'Success' });
    // Right after the death the pod still says running (the status lags), and attach fails:
    // v5 upgrades, then an in-band Failure; v4 gets HTTP 500.
    expect(kube.pod().object!.status.containerStatuses[0]!.state).toHaveProperty('running');
    const late = await rawAttach(kube, 'v5.channel.k8s.io');
    expect(await late.closed).toBe(1000);
    const failure = JSON.parse(late.frames.find((f) => f.channel === 3)!.data.toString());
    expect(failure).toMatchObject({ status: 'Failure', code: 500, message: 'container mcp not found' });
    expect(failure).not.toHaveProperty('kind');
    await expect(rawAttach(kube, 'v4.channel.k8s.io')).rejects.toMatchObject({ statusCode: 500 });
    const second = await kube.waitForRunning();
    const restarted = kube.pod().object!.status.containerStatuses[0]!;
    expect(restarted).toMatchObject({ restartCount: 1, containerID: second.containerID, lastState: { terminated: { exitCode: 137 } } });
    expect(second.containerID).not.toBe(first.containerID);
  });

  test('v5 close-stdin ends the whole session and sends nothing to stdin', async () => {
    kube = await startKubeApiEmulator();
    const process = await kube.waitForRunning();
    const a = await rawAttach(kube, 'v5.channel.k8s.io');
    a.ws.send(Buffer.of(255, 0));
    expect(await a.closed).toBe(1000);
    await new Promise((r) => setTimeout(r, 200));
    expect(process.running).toBe(true);
  });

  test('fails without the bearer token (401) and with a denied verb (403 naming it)', async () => {
    kube = await startKubeApiEmulator();
    await kube.waitForRunning();
    await expect(rawAttach(kube, 'v5.channel.k8s.io', 'wrong')).rejects.toMatchObject({ statusCode: 401 });
    kube.faults.forbid('create', 'pods/attach');
    const denied = await rawAttach(kube, 'v5.channel.k8s.io').catch((e: Error) => e);
    expect(JSON.parse((denied as Error).message)).toMatchObject({
      kind: 'Status', reason: 'Forbidden', code: 403, details: { name: 'everything-0', kind: 'pods' },
      message: 'pods "everything-0" is forbidden: User "system:serviceaccount:mcp-servers:mcp-proxy" cannot create resource "pods/attach" in API group "" in the namespace "mcp-servers"',
    });
  });

  test('serves GET, LIST and a resumable WATCH to @kubernetes/client-node', async () => {
    kube = await startKubeApiEmulator();
    await kube.waitForRunning();
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const pod = await core.readNamespacedPod({ namespace: kube.namespace, name: kube.podName() });
    expect(pod.status?.phase).toBe('Running');
    const list = await core.listNamespacedPod({ namespace: kube.namespace, labelSelector: kube.labelSelector });
    expect(list.items.map((p) => p.metadata?.uid)).toEqual([pod.metadata?.uid]);
    const events: string[] = [];
    const controller = await new Watch(kc).watch(`/api/v1/namespaces/${kube.namespace}/pods`,
      { resourceVersion: list.metadata?.resourceVersion, fieldSelector: `metadata.name=${kube.podName()}` },
      (type, object: { metadata: { uid: string } }) => events.push(`${type} ${object.metadata.uid === pod.metadata?.uid ? 'old' : 'new'}`),
      () => {});
    await kube.faults.replacePod();
    await until(() => events.includes('ADDED new'));
    controller.abort();
    expect(events.slice(0, 3)).toEqual(['MODIFIED old', 'DELETED old', 'ADDED new']);
  });
});
