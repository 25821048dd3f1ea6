/**
 * The attach backend with in-cluster credentials: no kubeconfig, so `@kubernetes/client-node`'s
 * `loadFromCluster` reads the ServiceAccount mount (token, ca.crt, namespace) and the API server's
 * address from KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, exactly as in a pod. The mount
 * is laid out in a temporary directory the way the kubelet writes it (files behind a `..data`
 * symlink swapped atomically on rotation), and the API server is the emulator over HTTPS, verified
 * against that ca.crt, with bearer-token authentication, in front of a real server-everything.
 *
 * The library reads the token file on first use and again once its copy is over 60 s old (by
 * `Date`), as client-go does; the tests that need a re-read move `Date` (only `Date`) past that.
 */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import type { BackendStatus } from '../../proxy/src/backends/types.ts';
import { opensslAvailable, startKubeApiEmulator, type KubeApiEmulator } from '../support/kube-api-emulator/index.ts';
import { selfSignedCertificate } from '../support/kube-api-emulator/tls.ts';
import { attachTestEnv, BackendHarness, isDown, isUp } from './harness.ts';

jest.setTimeout(40_000);

const env = attachTestEnv();
const SERVICE_ACCOUNT_DIR = 'var/run/secrets/kubernetes.io/serviceaccount';
/** How long `@kubernetes/client-node`'s FileAuth keeps a token it read (seconds, by `Date`). */
const TOKEN_CACHE_MS = 60_000;

let root: string | undefined;
afterEach(async () => {
  jest.useRealTimers();
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

/** A ServiceAccount volume as the kubelet projects it: each file a symlink through `..data`. */
class ServiceAccountMount {
  private generation = 0;

  private constructor(readonly prefix: string, private readonly dir: string) {}

  static async create(files: { token: string; ca: Buffer; namespace: string }): Promise<ServiceAccountMount> {
    root = await mkdtemp(join(tmpdir(), 'in-cluster-'));
    const dir = join(root, SERVICE_ACCOUNT_DIR);
    await mkdir(dir, { recursive: true });
    const mount = new ServiceAccountMount(root, dir);
    await mount.write(files);
    for (const name of ['token', 'ca.crt', 'namespace']) await symlink(join('..data', name), join(dir, name));
    return mount;
  }

  /** Writes a new generation and swaps `..data` to it in one rename, like the kubelet's AtomicWriter. */
  async write(files: { token: string; ca: Buffer; namespace: string }): Promise<void> {
    const generation = `..gen_${++this.generation}`;
    await mkdir(join(this.dir, generation));
    await writeFile(join(this.dir, generation, 'token'), files.token);
    await writeFile(join(this.dir, generation, 'ca.crt'), files.ca);
    await writeFile(join(this.dir, generation, 'namespace'), files.namespace);
    await symlink(generation, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.generation > 1) await rm(join(this.dir, `..gen_${this.generation - 1}`), { recursive: true });
  }
}

async function startTlsEmulator(): Promise<KubeApiEmulator> {
  env.kube = await startKubeApiEmulator({ tls: true });
  expect(env.kube.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  return env.kube;
}

function filesFor(kube: KubeApiEmulator, token = kube.token): { token: string; ca: Buffer; namespace: string } {
  return { token, ca: kube.caCertificate!, namespace: kube.namespace };
}

/**
 * The backend built without a kubeconfig, as in a pod. `loadFromCluster` reads the Service env vars
 * once, synchronously, while the backend is built: they are set for that call only and restored.
 */
function inClusterBackend(kube: KubeApiEmulator, mount: ServiceAccountMount): BackendHarness {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
  process.env.KUBERNETES_SERVICE_PORT = new URL(kube.server).port;
  try {
    env.harness = new BackendHarness(kube, { kubeconfig: undefined }, { serviceAccountPathPrefix: mount.prefix });
    return env.harness;
  } finally {
    for (const [name, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/**
 * Moves `Date` (nothing else: timers, timeouts and I/O stay real) past the library's token cache,
 * so its next request re-reads the token file; `Date` keeps running from there.
 */
function passTokenCache(): void {
  jest.useFakeTimers({
    now: Date.now() + TOKEN_CACHE_MS + 1_000,
    advanceTimers: true,
    doNotFake: [
      'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame',
      'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval',
      'setTimeout', 'clearTimeout',
    ],
  });
}

const isUnauthorized = (s: BackendStatus): boolean => isDown(s) && /401 Unauthorized/.test(s.reason);

(opensslAvailable() ? describe : describe.skip)('attach backend with in-cluster ServiceAccount credentials', () => {
  test('reads the mounted token, CA and the Service env vars, attaches over HTTPS and carries MCP', async () => {
    // GIVEN an HTTPS API server and a ServiceAccount mount with its token and CA
    const kube = await startTlsEmulator();
    const mount = await ServiceAccountMount.create(filesFor(kube));
    const envBefore = [process.env.KUBERNETES_SERVICE_HOST, process.env.KUBERNETES_SERVICE_PORT];
    // WHEN the backend starts without a kubeconfig
    const h = inClusterBackend(kube, mount);
    // (the Service env vars were set only while it was built)
    expect([process.env.KUBERNETES_SERVICE_HOST, process.env.KUBERNETES_SERVICE_PORT]).toEqual(envBefore);
    const up = await h.start();
    // THEN it attached to the pod and a real tools/call goes through server-everything
    expect(up).toMatchObject({ state: 'up', newProcess: true, detail: expect.stringContaining('pod mcp-servers/everything-0') });
    expect((await h.echo('in cluster')).result).toMatchObject({ content: [{ type: 'text', text: 'Echo: in cluster' }] });
    expect(h.logsMatching(/^attach backend .* -> ready$/)).toHaveLength(1);
    expect(kube.initializeCount()).toBe(1);
  });

  test('a ca.crt that did not sign the server certificate: never up, the TLS failure is named', async () => {
    const kube = await startTlsEmulator();
    const otherDir = await mkdtemp(join(tmpdir(), 'other-ca-'));
    const otherCa = selfSignedCertificate(otherDir).cert;
    await rm(otherDir, { recursive: true });
    const mount = await ServiceAccountMount.create({ ...filesFor(kube), ca: otherCa });
    const h = inClusterBackend(kube, mount);
    h.backend.start();
    const down = await h.waitForStatus((s) => isDown(s) && /cannot watch the MCP pod/.test(s.reason));
    expect((down as { reason: string }).reason).toMatch(/^cannot watch the MCP pod: fetch failed: self[- ]signed certificate/);
    expect(h.logsMatching(/pod watch failed/)[0]).toMatchObject({ level: 'warn', error: expect.stringMatching(/self[- ]signed certificate/) });
    expect(h.statuses.some(isUp)).toBe(false);
  });

  test('a wrong token gets the API server\'s 401: never up, the log names it, recovers once the file is right', async () => {
    // GIVEN a mounted token the API server does not accept
    const kube = await startTlsEmulator();
    const mount = await ServiceAccountMount.create(filesFor(kube, 'not-the-service-account-token'));
    const h = inClusterBackend(kube, mount);
    h.backend.start();
    // THEN the backend stays down with the 401 in its reason and in a log line
    const down = await h.waitForStatus(isUnauthorized);
    // (the GET's ApiException carries no Status body for a 401: its one-line message, no headers)
    expect((down as { reason: string }).reason).toBe(
      "cannot watch the MCP pod: 401 Unauthorized: the API server rejected the proxy's credentials: Unauthorized",
    );
    expect(h.logsMatching(/pod watch failed/)[0]).toMatchObject({
      level: 'warn', error: expect.stringMatching(/^401 Unauthorized: the API server rejected the proxy's credentials: /),
    });
    expect(h.statuses.some(isUp)).toBe(false);
    // WHEN the right token is mounted and the library's copy of the old one has aged out
    await mount.write(filesFor(kube));
    passTokenCache();
    // THEN the backend recovers on its own
    await h.waitForStatus(isUp);
    await h.initialize();
    expect((await h.echo('authenticated')).result).toMatchObject({ content: [{ text: 'Echo: authenticated' }] });
  });

  test('a rotated token (the old one revoked) is re-read from the file: re-attach to the same process', async () => {
    const kube = await startTlsEmulator();
    const mount = await ServiceAccountMount.create(filesFor(kube));
    const h = inClusterBackend(kube, mount);
    await h.start();
    // WHEN the kubelet rotates the token, the API server accepts only the new one, and the attach drops
    const rotated = 'rotated-service-account-token';
    await mount.write(filesFor(kube, rotated));
    kube.faults.setToken(rotated);
    const before = h.statuses.length;
    expect(kube.faults.dropAttachments()).toBe(1);
    // THEN within the library's 60 s token cache the re-attach still sends the old token and gets 401
    await h.waitForStatus(isDown, before);
    const refused = await h.waitForStatus(isUnauthorized, before);
    expect((refused as { reason: string }).reason).toBe(
      'attach to pod everything-0 failed: 401 Unauthorized: the API server rejected the proxy\'s credentials: Unauthorized',
    );
    expect(h.statuses.slice(before).some(isUp)).toBe(false);
    // AND once the cache has aged out the new token is read from the file and the same process is re-attached
    passTokenCache();
    const from = h.statuses.length;
    const up = await h.waitForStatus(isUp, from);
    expect(up.newProcess).toBe(false);
    expect((await h.echo('rotated')).result).toMatchObject({ content: [{ text: 'Echo: rotated' }] });
    expect(kube.initializeCount()).toBe(1);
    expect(kube.token).toBe(rotated);
  });
});
