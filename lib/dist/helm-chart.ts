/**
 * A Helm chart of the same objects as dist/. Written here rather than with `cdk8s synth --format
 * helm`, because that copies the imported CRD definitions (Prometheus operator, Argo CD, Gateway
 * API) into the chart's `crds/`, so installing our chart would install CRDs of projects we do not own.
 * Instead, each object whose kind needs a CRD renders only when the cluster serves that kind.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { GENERATED_HEADER, type DistFile, type ManifestObject } from './write-dist.ts';

export interface HelmChartOptions {
  /** @default "toolhive-cdk8s" */
  readonly name?: string;
  /** Chart version (SemVer). */
  readonly version: string;
  /** @default - the chart version */
  readonly appVersion?: string;
}

/** Helm evaluates `{{` in templates: text that contains it (a Grafana dashboard) is emitted literally. */
export function escapeTemplate(text: string): string {
  return text.replace(/\{\{/g, '{{ "{{" }}');
}

/** The chart's files (paths relative to the chart folder), from the files of dist/. */
export function renderHelmChart(distFiles: readonly DistFile[], options: HelmChartOptions): DistFile[] {
  const name = options.name ?? 'toolhive-cdk8s';
  const chartYaml = {
    apiVersion: 'v2',
    name,
    description: 'MCP servers and their ToolHive proxies, hardened (synthesized by toolhive-cdk8s)',
    type: 'application',
    version: options.version,
    appVersion: options.appVersion ?? options.version,
  };
  const templates: DistFile[] = [];
  for (const file of distFiles) {
    // Argo CD Applications are the GitOps way in: inside a Helm release they would make Argo CD a
    // second owner of the very objects Helm installs, so the chart leaves them out.
    if (file.path === 'kustomization.yaml' || !file.path.endsWith('.yaml') || file.path.startsWith('helm-values/') || file.path.startsWith('argocd/')) {
      continue;
    }
    const objects = parseAllDocuments(file.content).map((d) => d.toJS() as ManifestObject).filter(Boolean);
    const body = objects.map((obj) => {
      const yaml = escapeTemplate(stringify(obj, { lineWidth: 0 }));
      if (!obj.apiVersion.includes('/') || !file.path.includes('/')) {
        return yaml;
      }
      return `{{- if .Capabilities.APIVersions.Has "${obj.apiVersion}/${obj.kind}" }}\n${yaml}{{- end }}\n`;
    }).join('---\n');
    templates.push({ path: `templates/${file.path.replace(/\//g, '_')}`, content: GENERATED_HEADER + body });
  }
  return [
    { path: 'Chart.yaml', content: GENERATED_HEADER + stringify(chartYaml) },
    { path: 'values.yaml', content: `${GENERATED_HEADER}# The objects are fixed at synth time: change the cdk8s app, not values.\n{}\n` },
    ...templates,
  ];
}
