/**
 * An emulated Kubernetes API server for the parts the proxy's attach backend uses, in front of a
 * REAL process: pod GET/LIST/WATCH and the `pods/attach` WebSocket endpoint (`v5.channel.k8s.io`,
 * `v4.channel.k8s.io`), with the behaviours measured on a real cluster (shared/docs/ATTACH.md).
 * Only the Kubernetes API is emulated: the MCP server behind it is a real child process, and the
 * proxy reaches it through a kubeconfig exactly as it would reach a real apiserver.
 *
 * Usage:
 *   const kube = await startKubeApiEmulator();            // server-everything in pod mcp-servers/everything-0
 *   // proxy config: { type: 'attach', namespace: kube.namespace, pod: kube.podName(), kubeconfig: kube.kubeconfigPath }
 *   await kube.faults.killContainer();                    // container restart: new containerID, restartCount + 1
 *   kube.faults.dropAttachments();                        // abrupt TCP drop of every attach, process lives on
 *   kube.faults.stallAttachments();                       // half-open attach: nothing passes, no close
 *   kube.faults.closeAttachments();                       // normal end (Success, 1000) while the process lives
 *   const thaw = kube.faults.freezeContainer();           // the process stops (SIGSTOP) until thaw()
 *   await kube.faults.replacePod();                       // new uid (and a new name with `name`)
 *   kube.faults.forbid('get', 'pods/attach');             // 403 with an RBAC-style Status naming the permission
 *   kube.faults.setProtocols(['v4']);                     // a server without v5.channel.k8s.io
 *   kube.faults.setToken('new-token');                    // a rotated token: only the new one is accepted
 *   kube.faults.endWatches();                             // every watch ends, as at the apiserver's watch timeout
 *   const catchUp = kube.faults.holdWatches();            // watches lag (GET stays current) until catchUp() (catchUp(n): the n oldest events)
 *   kube.faults.churn(1_100);                             // the rest of the cluster moves the watch window on
 *   kube.initializeCount();                               // `initialize` requests that reached the process's stdin
 *   await kube.stop();
 *
 * By default the server is plain HTTP on 127.0.0.1 and the kubeconfig says
 * `insecure-skip-tls-verify: true` (@kubernetes/client-node accepts an `http://` server only with
 * that flag), which needs no certificate toolchain. `tls: true` serves HTTPS with a throwaway
 * certificate made by the `openssl` CLI and puts it in the kubeconfig as the cluster CA, as a real
 * cluster does. Authentication is real: every request must carry the kubeconfig's bearer token
 * (401 otherwise).
 *
 * Not reproduced: fragmented WebSocket messages (real attach passes only the first fragment to
 * stdin; `ws` reassembles them), the exact 32 MiB abrupt close (here a 1009 close), SPDY.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AttachEndpoint, type AttachSession, type ChannelProtocol } from './attach-endpoint.ts';
import type { ContainerCommand, ContainerExit, ContainerProcess } from './container.ts';
import { handleRequest, handleUpgrade, type AccessPolicy, type ApiContext } from './http-api.ts';
import { EmulatedPod, type KubeletTimings } from './kubelet.ts';
import { PodStore } from './pods.ts';
import { selfSignedCertificate } from './tls.ts';

export type { AttachSession, ChannelProtocol } from './attach-endpoint.ts';
export type { ContainerExit, ContainerProcess } from './container.ts';
export type { PodObject } from './pods.ts';
export { opensslAvailable } from './tls.ts';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** server-everything over stdio, run by the Node 24 the project pins. */
export const SERVER_EVERYTHING: ContainerCommand = {
  command: process.execPath,
  args: [join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
};

export interface KubeApiEmulatorOptions {
  /** @default "mcp-servers" */
  readonly namespace?: string;
  /** First pod's name. @default "everything-0" (a StatefulSet's first pod) */
  readonly podName?: string;
  /** @default {"app.kubernetes.io/name": "everything"} */
  readonly labels?: Record<string, string>;
  /** @default "mcp" */
  readonly container?: string;
  /** The container's process. @default SERVER_EVERYTHING */
  readonly command?: ContainerCommand;
  /** Subprotocols served. @default ["v5", "v4"] */
  readonly protocols?: readonly ('v5' | 'v4')[];
  /** Pending/ContainerCreating before the first container runs. @default 0 */
  readonly startDelayMs?: number;
  /** Process death → `terminated` in the pod status. @default 300 (ATTACH.md: 0.24–0.9 s) */
  readonly terminatedAfterMs?: number;
  /** `terminated` → restarted container running. @default 300 */
  readonly restartAfterMs?: number;
  /** A container's process started → `running` in the pod status. @default 0 (at once) */
  readonly runningAfterMs?: number;
  /** Kubelet streaming idle timeout for v4 sessions. @default 0 (off; 4 h on a real kubelet) */
  readonly v4IdleTimeoutMs?: number;
  /** RBAC limited by resourceNames: LIST/WATCH need `fieldSelector=metadata.name=<pod>`. @default false */
  readonly resourceNamesOnly?: boolean;
  /** Serve HTTPS with a certificate the kubeconfig trusts (needs the `openssl` CLI). @default false */
  readonly tls?: boolean;
}

export interface KubeApiEmulator {
  /** A kubeconfig (current context → this server, bearer token) for `AttachBackendConfig.kubeconfig`. */
  readonly kubeconfigPath: string;
  /** `http://127.0.0.1:<port>`, or `https://` with `tls` */
  readonly server: string;
  /** The bearer token accepted now (see `faults.setToken`). */
  readonly token: string;
  /** With `tls`: the server's self-signed certificate (PEM), the cluster CA a client must trust. */
  readonly caCertificate: Buffer | undefined;
  readonly namespace: string;
  readonly container: string;
  /** Selects every pod this emulator creates. */
  readonly labelSelector: string;
  /** The pod that currently exists (the latest one after `replacePod`). */
  pod(): EmulatedPod;
  podName(): string;
  /** Resolves with the running container process (waits through start delays and restarts). */
  waitForRunning(timeoutMs?: number): Promise<ContainerProcess>;
  /** Open attach sessions. */
  attachSessions(): readonly AttachSession[];
  /** Pod watches open now. */
  openWatches(): number;
  /** Watches refused so far with 410 Gone (a resourceVersion older than the watch window). */
  goneWatches(): number;
  /** Subprotocol of every upgrade so far. */
  negotiatedProtocols(): readonly ChannelProtocol[];
  /** `initialize` requests that reached any process's stdin, over all pods and restarts. */
  initializeCount(): number;
  readonly faults: {
    /** Abrupt TCP drop of every attach session (no close frame); returns how many. */
    dropAttachments(): number;
    /** Ends every attach session normally (Success, 1000) while the process lives on. */
    closeAttachments(): number;
    /** Half-opens every attach session: no traffic either way, no close (see AttachSession.stall). */
    stallAttachments(): number;
    /** Kills the container's process (SIGKILL): attachers see Success + 1000, then the kubelet restarts it. */
    killContainer(signal?: NodeJS.Signals): Promise<ContainerExit>;
    /** Stops the container's process (SIGSTOP) until the returned function is called (SIGCONT). */
    freezeContainer(): () => void;
    /** Deletes the pod and creates its replacement (new uid; new name when given). */
    replacePod(options?: { readonly name?: string; readonly startDelayMs?: number }): Promise<void>;
    /** Denies `verb` on `resource` (`pods`, `pods/attach`): 403 with the apiserver's Status. */
    forbid(verb: string, resource: string): void;
    allow(verb: string, resource: string): void;
    setProtocols(protocols: readonly ('v5' | 'v4')[]): void;
    /** Accepts only `token` from now on (a rotated token; the old one, and the kubeconfig, get 401). */
    setToken(token: string): void;
    /** Ends every open watch normally, as the apiserver does when a watch's timeout is up; returns how many. */
    endWatches(): number;
    /**
     * Watches fall behind: their events (open watches' and new ones') wait until the returned
     * function sends them, in order, while GET and LIST answer with the current state. Called with
     * a count, it sends that many of the oldest held events and the watches stay behind.
     */
    holdWatches(): (count?: number) => void;
    /**
     * Pods elsewhere in the cluster change `events` times; past the watch window (1,000 events) a
     * watch from a resourceVersion older than that gets 410 Gone, as on a busy cluster.
     */
    churn(events: number): void;
  };
  stop(): Promise<void>;
}

export async function startKubeApiEmulator(options: KubeApiEmulatorOptions = {}): Promise<KubeApiEmulator> {
  const namespace = options.namespace ?? 'mcp-servers';
  const container = options.container ?? 'mcp';
  const labels = options.labels ?? { 'app.kubernetes.io/name': 'everything' };
  const command = options.command ?? SERVER_EVERYTHING;
  const token = randomBytes(24).toString('base64url');
  const timings: KubeletTimings = {
    startDelayMs: options.startDelayMs ?? 0,
    terminatedAfterMs: options.terminatedAfterMs ?? 300,
    restartAfterMs: options.restartAfterMs ?? 300,
    runningAfterMs: options.runningAfterMs ?? 0,
  };
  let protocols = toProtocols(options.protocols ?? ['v5', 'v4']);
  const store = new PodStore();
  const pods: EmulatedPod[] = [];
  const newPod = (name: string, startDelayMs: number): EmulatedPod => {
    const pod = new EmulatedPod(store, { namespace, name, labels, container, image: 'emulated/mcp-server', command }, {
      ...timings, startDelayMs,
    });
    pods.push(pod);
    return pod;
  };
  const current = (): EmulatedPod => pods[pods.length - 1]!;
  const attach = new AttachEndpoint({ protocols: () => protocols, v4IdleTimeoutMs: options.v4IdleTimeoutMs ?? 0 });
  const policy: AccessPolicy = {
    token,
    user: `system:serviceaccount:${namespace}:mcp-proxy`,
    denied: new Set(),
    resourceNames: () => (options.resourceNamesOnly ? [current().spec.name] : undefined),
  };
  const ctx: ApiContext = {
    store, policy, attach, watches: new Set(), gone: 0, heldWatchEvents: undefined,
    findPod: (ns, name) => [...pods].reverse().find((p) => p.spec.namespace === ns && p.spec.name === name && p.object),
  };
  const dir = await mkdtemp(join(tmpdir(), 'kube-api-emulator-'));
  const certificate = options.tls ? selfSignedCertificate(dir) : undefined;
  const server = certificate
    ? createTlsServer({ key: certificate.key, cert: certificate.cert }, (req, res) => handleRequest(ctx, req, res))
    : createServer((req, res) => handleRequest(ctx, req, res));
  server.on('upgrade', (req, socket, head) => handleUpgrade(ctx, req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `${certificate ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  newPod(options.podName ?? 'everything-0', timings.startDelayMs);

  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, kubeconfig(url, token, namespace, certificate?.cert), { mode: 0o600 });

  return {
    kubeconfigPath, server: url, namespace, container,
    get token() { return policy.token; },
    caCertificate: certificate?.cert,
    labelSelector: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','),
    pod: current,
    podName: () => current().spec.name,
    waitForRunning: async (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const process = current().runningProcess(container);
        if (process && current().object?.status.phase === 'Running' && 'running' in current().object!.status.containerStatuses[0]!.state) {
          return process;
        }
        if (Date.now() > deadline) throw new Error(`pod ${current().spec.name}: container ${container} not running after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    attachSessions: () => attach.open,
    openWatches: () => ctx.watches.size,
    goneWatches: () => ctx.gone,
    negotiatedProtocols: () => attach.negotiated,
    initializeCount: () => pods.flatMap((p) => p.processes).reduce((sum, p) => sum + p.initializeCount, 0),
    faults: {
      dropAttachments: () => {
        const open = attach.open;
        for (const session of open) session.drop();
        return open.length;
      },
      closeAttachments: () => {
        const open = attach.open;
        for (const session of open) session.close();
        return open.length;
      },
      stallAttachments: () => {
        const open = attach.open;
        for (const session of open) session.stall();
        return open.length;
      },
      killContainer: async (signal = 'SIGKILL') => {
        const process = current().process;
        if (!process) throw new Error('no container process to kill');
        return process.kill(signal);
      },
      freezeContainer: () => {
        const process = current().process;
        if (!process) throw new Error('no container process to freeze');
        process.freeze();
        return () => process.thaw();
      },
      replacePod: async ({ name, startDelayMs } = {}) => {
        const old = current();
        await old.delete();
        newPod(name ?? old.spec.name, startDelayMs ?? timings.startDelayMs);
      },
      forbid: (verb, resource) => { policy.denied.add(`${verb} ${resource}`); },
      allow: (verb, resource) => { policy.denied.delete(`${verb} ${resource}`); },
      setProtocols: (next) => { protocols = toProtocols(next); },
      setToken: (next) => { policy.token = next; },
      endWatches: () => {
        const open = [...ctx.watches];
        for (const res of open) res.end();
        return open.length;
      },
      holdWatches: () => {
        const held: (() => void)[] = ctx.heldWatchEvents ?? [];
        ctx.heldWatchEvents = held;
        return (count) => {
          if (ctx.heldWatchEvents !== held) return;
          if (count !== undefined) {
            for (const send of held.splice(0, count)) send();
            return;
          }
          ctx.heldWatchEvents = undefined;
          for (const send of held) send();
        };
      },
      churn: (events) => store.churn(events),
    },
    stop: async () => {
      attach.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(pods.map((p) => p.delete()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function toProtocols(versions: readonly ('v5' | 'v4')[]): ChannelProtocol[] {
  return versions.map((v) => (v === 'v5' ? 'v5.channel.k8s.io' : 'v4.channel.k8s.io'));
}

/** JSON is YAML: client-node's loader reads this as it reads any kubeconfig. */
function kubeconfig(server: string, token: string, namespace: string, ca: Buffer | undefined): string {
  const cluster = ca ? { server, 'certificate-authority-data': ca.toString('base64') } : { server, 'insecure-skip-tls-verify': true };
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'emulator',
    clusters: [{ name: 'emulator', cluster }],
    users: [{ name: 'mcp-proxy', user: { token } }],
    contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'mcp-proxy', namespace } }],
  }, null, 2);
}
