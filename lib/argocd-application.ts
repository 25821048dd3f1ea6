/** An Argo CD Application that syncs this repository's `dist/` into a cluster. */
import { Construct } from 'constructs';
import { Application } from '../imports/argocd-argoproj.io.ts';
import { PART_OF } from './_metadata.ts';

export interface McpArgoCdApplicationProps {
  /** Git URL of the repository holding `dist/`. */
  readonly repoUrl: string;
  /**
   * Branch, tag or commit to sync.
   * @default "main"
   */
  readonly targetRevision?: string;
  /**
   * Folder of the manifests in the repository. Argo CD finds `kustomization.yaml` there and applies
   * the files it lists (the CRD-free ones, as `kubectl apply -k` would).
   * @default "dist"
   */
  readonly path?: string;
  /**
   * Folders of the repository synced as plain directories next to `path`, for the objects whose kinds
   * need a CRD (`kustomization.yaml` lists only the CRD-free files), e.g. `dist/prometheus-operator`.
   * Given any, the Application has several sources, and an object whose CRD is not installed yet is
   * skipped at dry-run instead of failing the whole sync.
   * @default [] (only `path`)
   */
  readonly directories?: readonly string[];
  /**
   * Name of the Application.
   * @default "toolhive-cdk8s"
   */
  readonly name?: string;
  /**
   * Namespace Argo CD runs in (Applications live there).
   * @default "argocd"
   */
  readonly argoCdNamespace?: string;
  /**
   * Argo CD project.
   * @default "default"
   */
  readonly project?: string;
  /**
   * API server of the target cluster.
   * @default "https://kubernetes.default.svc" (the cluster Argo CD runs in)
   */
  readonly destinationServer?: string;
  /**
   * Sync automatically, pruning deleted objects and reverting drift.
   * @default true
   */
  readonly automated?: boolean;
}

/**
 * Argo CD does not try an automated sync again for a commit whose sync failed unless it has a retry
 * policy: an object whose CRD another Application is still installing would stay out until the
 * next commit. About half an hour of backoff covers a Helm release installing its CRDs.
 */
export const AUTOMATED_SYNC_RETRY = { limit: 10, backoff: { duration: '10s', factor: 2, maxDuration: '5m' } } as const;

export class McpArgoCdApplication extends Construct {
  public readonly application: Application;

  constructor(scope: Construct, id: string, props: McpArgoCdApplicationProps) {
    super(scope, id);
    if (!/^(https:\/\/|ssh:\/\/|git@)\S+$/.test(props.repoUrl)) {
      throw new Error(`argo cd application "${id}": repoUrl "${props.repoUrl}" is not a git URL: use https://..., ssh://... or git@host:org/repo.git`);
    }
    const automated = props.automated ?? true;
    const targetRevision = props.targetRevision ?? 'main';
    const path = props.path ?? 'dist';
    const directories = props.directories ?? [];
    for (const dir of directories) {
      if (dir === path || dir.startsWith('/') || dir.split('/').includes('..')) {
        throw new Error(`argo cd application "${id}": directory "${dir}" must be a folder of the repository other than path "${path}", without "..": e.g. "${path}/prometheus-operator"`);
      }
    }
    this.application = new Application(this, 'Resource', {
      metadata: {
        name: props.name ?? 'toolhive-cdk8s',
        namespace: props.argoCdNamespace ?? 'argocd',
        labels: { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/managed-by': 'cdk8s', 'app.kubernetes.io/name': 'toolhive-cdk8s' },
      },
      spec: {
        project: props.project ?? 'default',
        ...(directories.length === 0
          ? { source: { repoUrl: props.repoUrl, targetRevision, path } }
          : { sources: [path, ...directories].map((p) => ({ repoUrl: props.repoUrl, targetRevision, path: p })) }),
        // Every object in dist/ names its namespace, so the destination namespace is never used.
        destination: { server: props.destinationServer ?? 'https://kubernetes.default.svc' },
        syncPolicy: {
          automated: automated ? { prune: true, selfHeal: true } : undefined,
          retry: automated ? AUTOMATED_SYNC_RETRY : undefined,
          // Namespaces are part of dist/ (with their Pod Security labels), so Argo CD must not create
          // bare ones first; pruning last keeps servers running until their replacements exist.
          syncOptions: ['CreateNamespace=false', 'PruneLast=true', ...(directories.length > 0 ? ['SkipDryRunOnMissingResource=true'] : [])],
        },
      },
    });
  }
}
