/** The default app, synthesized in memory, as plain objects. */
import { buildApp } from '../../main.ts';
import { synthesizeCharts } from '../../lib/dist/write-dist.ts';
import type { KubeObject } from './_schema.ts';

export function defaultAppObjects(): KubeObject[] {
  return synthesizeCharts(buildApp()).flatMap((c) => c.objects) as unknown as KubeObject[];
}

export const CLUSTER_SCOPED_KINDS = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'IngressClass']);

/** Pod templates of workloads, with the object they belong to. */
export function podTemplates(objects: readonly KubeObject[]): { owner: KubeObject; template: any }[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet'].includes(o.kind))
    .map((owner) => ({ owner, template: owner.spec.template }));
}
