/**
 * The stream backends the proxy's end-to-end suites run against (`describe.each(backends)`).
 * Each entry starts whatever its backend needs in front of a real
 * `@modelcontextprotocol/server-everything` and returns the proxy's `backend` config section.
 *
 * To add a backend, append an entry: `start()` prepares it (e.g. an API-server emulator), `crash()`
 * kills the real server process the way that backend would see it die, `stop()` cleans up.
 */
import type { BackendConfig } from '../../proxy/src/config.ts';
import type { RunningProxy } from '../../proxy/src/main.ts';
import type { SpawnBackend } from '../../proxy/src/backends/spawn.ts';
import type { RestartReason } from '../../proxy/src/telemetry/telemetry.ts';
import { EVERYTHING_SERVER } from './everything.ts';
import { startKubeApiEmulator } from './kube-api-emulator/index.ts';

export interface StartedBackend {
  readonly config: BackendConfig;
  /** Kills the MCP server process (not the proxy) with SIGKILL; the backend must notice and recover. */
  crash(proxy: RunningProxy): Promise<void>;
  /** The `reason` label `toolhive_mcp_backend_restarts_total` gives one `crash()` (the shared fixtures). */
  readonly crashReason?: RestartReason;
  /** Stops the MCP server process (SIGSTOP: it reads and writes nothing) until the returned function is called. */
  freeze?(proxy: RunningProxy): () => void;
  stop(): Promise<void>;
}

export interface BackendFixture {
  readonly name: string;
  start(): Promise<StartedBackend>;
}

export const spawnBackend: BackendFixture = {
  name: 'spawn',
  async start() {
    return {
      config: { type: 'spawn', command: process.execPath, args: [EVERYTHING_SERVER, 'stdio'], restart: { initialDelayMs: 50, maxDelayMs: 500 } },
      async crash(proxy) {
        const pid = (proxy.backend as SpawnBackend).pid;
        if (pid === undefined) throw new Error('spawn backend has no running child');
        process.kill(pid, 'SIGKILL');
      },
      crashReason: 'signal',
      freeze(proxy) {
        const pid = (proxy.backend as SpawnBackend).pid;
        if (pid === undefined) throw new Error('spawn backend has no running child');
        process.kill(pid, 'SIGSTOP');
        return () => {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            // It died meanwhile: nothing to wake.
          }
        };
      },
      async stop() {},
    };
  },
};

/**
 * `attach`: the proxy reaches server-everything through an emulated Kubernetes API (pod watch +
 * `pods/attach` WebSocket) from a kubeconfig, as it would in a cluster. A crash kills the
 * container's process; the emulated kubelet restarts it (new containerID, restartCount + 1).
 */
export const attachBackend: BackendFixture = {
  name: 'attach',
  async start() {
    const kube = await startKubeApiEmulator();
    return {
      config: {
        type: 'attach', namespace: kube.namespace, pod: kube.podName(), kubeconfig: kube.kubeconfigPath,
        reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      },
      async crash() {
        await kube.faults.killContainer('SIGKILL');
      },
      crashReason: 'container_restart',
      freeze: () => kube.faults.freezeContainer(),
      stop: () => kube.stop(),
    };
  },
};

export const backends: BackendFixture[] = [spawnBackend, attachBackend];
