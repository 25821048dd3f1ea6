/**
 * The `attach` stream backend: the `mcp` container of a pod, reached through the Kubernetes
 * `pods/attach` API (see docs/attach.md). The proxy's backend factory imports this module only
 * when the configuration asks for it, so `@kubernetes/client-node` is loaded only then.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { AttachBackendConfig } from '../../config.ts';
import { systemClock, type BackendDeps, type StreamBackend } from '../types.ts';
import { AttachBackend } from './attach-backend.ts';
import type { ChannelProtocol } from './attach-connection.ts';

export { AttachBackend, LOST_OUTPUT_NOTE, type AttachState } from './attach-backend.ts';

/**
 * `auto` tries v4 alone first, then v5. Measured on a real 1.32 cluster (docs/attach.md), v4
 * moves ~60% more messages per second: a real apiserver routes any request that offers v5 through
 * its v5→SPDY translator, so offering both would cost the same as v5. v5's one extra, closing
 * stdin, is something this backend must never do (it ends the whole attach session). v4's idle
 * close by the kubelet is prevented by the idle probe's stdin traffic.
 */
const PROTOCOLS: Record<'v5' | 'v4' | 'auto', readonly ChannelProtocol[]> = {
  v4: ['v4.channel.k8s.io'],
  v5: ['v5.channel.k8s.io'],
  auto: ['v4.channel.k8s.io', 'v5.channel.k8s.io'],
};

/** Internal tuning, not configuration: tests set these. */
export interface AttachTuning {
  /** After a normal-looking close, how long the pod has to show a dead process. @default 2000 */
  readonly exitConfirmMs?: number;
  /** How long an idle probe may go unanswered. @default min(idleProbeMs, 10000) */
  readonly probeTimeoutMs?: number;
  /**
   * Without a kubeconfig: a directory the ServiceAccount mount
   * (`/var/run/secrets/kubernetes.io/serviceaccount/`) is looked up under, for tests that lay
   * one out in a temporary directory. @default "" (the real mount)
   */
  readonly serviceAccountPathPrefix?: string;
}

export function createAttachBackend(config: AttachBackendConfig, deps: BackendDeps, tuning: AttachTuning = {}): StreamBackend {
  const kubeConfig = new KubeConfig();
  // Outside a cluster a kubeconfig; inside, the ServiceAccount token file, which the library
  // re-reads as it rotates (when its copy is over 60 s old, as client-go does).
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromCluster(tuning.serviceAccountPathPrefix);
  const idleProbeMs = config.idleProbeMs ?? 30_000;
  return new AttachBackend({
    kubeConfig,
    namespace: config.namespace,
    ...(config.pod ? { pod: config.pod } : {}),
    ...(config.labelSelector ? { labelSelector: config.labelSelector } : {}),
    container: config.container ?? 'mcp',
    protocols: PROTOCOLS[config.protocol ?? 'auto'],
    reconnect: {
      initialDelayMs: config.reconnect?.initialDelayMs ?? 250,
      maxDelayMs: config.reconnect?.maxDelayMs ?? 10_000,
    },
    idleProbeMs,
    probeTimeoutMs: tuning.probeTimeoutMs ?? Math.min(idleProbeMs, 10_000),
    exitConfirmMs: tuning.exitConfirmMs ?? 2_000,
    logger: deps.logger,
    clock: deps.clock ?? systemClock,
  });
}
