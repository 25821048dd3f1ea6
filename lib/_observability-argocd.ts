/**
 * Argo CD `Application`s installing the three charts with our values inline (`helm.valuesObject`).
 */
import { JsonPatch } from 'cdk8s';
import type { Construct } from 'constructs';
import { Application } from '../imports/argocd-argoproj.io.ts';
import { AUTOMATED_SYNC_RETRY } from './argocd-application.ts';
import { stackLabels } from './_observability-names.ts';

export interface HelmReleaseSpec {
  readonly releaseName: string;
  readonly chart: string;
  readonly repoURL: string;
  readonly version: string;
  readonly namespace: string;
  readonly values: object;
}

export interface ArgoCdSettings {
  readonly namespace: string;
  readonly project: string;
  readonly destinationServer: string;
  readonly automated: boolean;
}

/** Escapes a key for a JSON pointer (RFC 6901). */
const pointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * cdk8s drops null values when it renders an object, but a null in Helm values is meaningful: it
 * deletes the chart's default at that key (an unused receiver, a default pipeline). JSON patches are
 * applied after that cleanup, so each null is put back as one.
 */
function restoreNulls(app: Application, base: string, value: unknown): void {
  if (value === null) {
    app.addJsonPatch(JsonPatch.add(base, null));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) restoreNulls(app, `${base}/${pointer(k)}`, v);
}

/**
 * The Application for one release. kube-prometheus-stack carries CRDs too large for the
 * last-applied annotation of a client-side apply, hence ServerSideApply. Its sync wave (-1) orders
 * it before the others only where one parent Application syncs them all (app of apps); Argo CD
 * does not wait for a child Application to be healthy, so it orders the applies, not their outcome.
 */
export function helmApplication(scope: Construct, id: string, release: HelmReleaseSpec, argo: ArgoCdSettings,
  options: { readonly serverSideApply: boolean; readonly syncWave: number }): Application {
  const syncOptions = ['CreateNamespace=true', ...(options.serverSideApply ? ['ServerSideApply=true'] : [])];
  const app = new Application(scope, id, {
    metadata: {
      name: release.releaseName,
      namespace: argo.namespace,
      labels: stackLabels('argocd-application'),
      annotations: { 'argocd.argoproj.io/sync-wave': String(options.syncWave) },
    },
    spec: {
      project: argo.project,
      source: {
        repoUrl: release.repoURL,
        chart: release.chart,
        targetRevision: release.version,
        helm: { releaseName: release.releaseName, valuesObject: release.values },
      },
      destination: { server: argo.destinationServer, namespace: release.namespace },
      syncPolicy: {
        syncOptions,
        ...(argo.automated ? { automated: { prune: true, selfHeal: true }, retry: AUTOMATED_SYNC_RETRY } : {}),
      },
    },
  });
  restoreNulls(app, '/spec/source/helm/valuesObject', release.values);
  return app;
}
