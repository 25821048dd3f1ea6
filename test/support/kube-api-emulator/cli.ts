/**
 * Runs the API emulator as its own process (benchmarks, trying the attach backend by hand):
 *
 *   node test/support/kube-api-emulator/cli.ts [--info FILE] [--protocols v5,v4] [--pod NAME]
 *
 * Once the container runs it writes `{"kubeconfig", "namespace", "pod", "server"}` as one JSON line
 * to FILE (or stdout), e.g. for a proxy config `{"backend": {"type": "attach", "namespace": ...,
 * "pod": ..., "kubeconfig": ...}}`. SIGTERM or SIGINT stops it and the container's process.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startKubeApiEmulator } from './index.ts';

const { values } = parseArgs({
  options: {
    info: { type: 'string' },
    protocols: { type: 'string', default: 'v5,v4' },
    pod: { type: 'string' },
  },
});
const protocols = values.protocols.split(',').map((p) => p.trim());
if (protocols.some((p) => p !== 'v5' && p !== 'v4')) throw new Error(`--protocols: "${values.protocols}" must list v5 and/or v4`);

const kube = await startKubeApiEmulator({
  protocols: protocols as ('v5' | 'v4')[],
  ...(values.pod ? { podName: values.pod } : {}),
});
await kube.waitForRunning();
const info = JSON.stringify({ kubeconfig: kube.kubeconfigPath, namespace: kube.namespace, pod: kube.podName(), server: kube.server });
if (values.info) writeFileSync(values.info, `${info}\n`);
else process.stdout.write(`${info}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void kube.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
