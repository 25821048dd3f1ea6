/**
 * The `proxy-attach` benchmark target: our proxy with the attach backend, reaching
 * server-everything through the Kubernetes API emulator (test/support/kube-api-emulator) exactly
 * as it reaches a pod in a cluster: kubeconfig, pod watch, `pods/attach` WebSocket.
 *
 * The emulator runs in its own process (as an apiserver and kubelet would run elsewhere), so the
 * reported RSS/CPU are the proxy's alone, while the spawn target's include the server it spawns.
 * `BENCH_ATTACH_PROTOCOL` = auto (default, v4 first) | v4 | v5 picks the subprotocol.
 */
import fs from 'node:fs';
import path from 'node:path';
import { HttpDriver } from './drivers.ts';
import { HttpConnection } from './http-client.ts';
import { initializeBody } from './mcp.ts';
import { LOOPBACK_ONLY, REPO_ROOT, freePort, spawnTarget, waitUntil } from './processes.ts';
import { PROXY_CLI, PROXY_COMMAND, PROXY_NODE_FLAGS, proxyBuildProblem } from './proxy-command.ts';
import type { TargetSpec } from './targets.ts';

const EMULATOR_CLI = path.join(REPO_ROOT, 'test/support/kube-api-emulator/cli.ts');

async function answersInitialize(port: number): Promise<boolean> {
  const connection = new HttpConnection('127.0.0.1', port);
  try {
    const response = await connection.request('POST', '/mcp', 'Accept: application/json, text/event-stream\r\n', initializeBody(1), 2000);
    return response.status === 200;
  } finally {
    connection.close();
  }
}

export const attachTarget: TargetSpec = {
  name: 'proxy-attach',
  description: `our proxy, attach backend (\`${PROXY_COMMAND} --config\`): \`pods/attach\` through the Kubernetes API emulator (own process) in front of the server`,
  peer: false,
  unavailable: () => proxyBuildProblem() ?? (fs.existsSync(EMULATOR_CLI) ? undefined : 'the API emulator is missing'),
  async start(context) {
    const node = process.execPath;
    const infoFile = path.join(context.workDir, 'kube-api-emulator.json');
    fs.rmSync(infoFile, { force: true });
    // With the proxy's V8 flags (one GC thread, a larger young generation): with V8's default
    // parallel scavenger every young collection of the emulator woke GC threads that preempted the
    // proxy on the other core (docs/attach.md, "Our own processes' GC threads").
    const emulator = spawnTarget(node, [...PROXY_NODE_FLAGS, '--import', LOOPBACK_ONLY, EMULATOR_CLI, '--info', infoFile], {
      logFile: path.join(context.workDir, 'kube-api-emulator.log'),
    });
    await waitUntil('kube-api-emulator', emulator, async () => fs.existsSync(infoFile) && fs.readFileSync(infoFile, 'utf8').endsWith('\n'));
    const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { kubeconfig: string; namespace: string; pod: string };
    const port = await freePort();
    const configFile = path.join(context.workDir, 'proxy-attach.json');
    const protocol = process.env.BENCH_ATTACH_PROTOCOL ?? 'auto';
    fs.writeFileSync(configFile, JSON.stringify({
      server: 'everything',
      backend: { type: 'attach', namespace: info.namespace, pod: info.pod, kubeconfig: info.kubeconfig, protocol },
      logging: { level: 'warn' },
    }));
    const listen = ['--host', '127.0.0.1', '--port', String(port), '--metrics-port', '0'];
    const proxy = spawnTarget(node, [...PROXY_NODE_FLAGS, PROXY_CLI, '--config', configFile, ...listen], { logFile: path.join(context.workDir, 'proxy-attach.log') });
    try {
      await waitUntil('proxy-attach', proxy, () => answersInitialize(port));
    } catch (error) {
      await emulator.stop();
      throw error;
    }
    return {
      pid: proxy.child.pid!,
      alsoOnPath: [emulator.child.pid!],
      driver: () => new HttpDriver({ host: '127.0.0.1', port, timeoutMs: context.timeoutMs }),
      async stop() {
        await proxy.stop();
        await emulator.stop();
      },
    };
  },
};
