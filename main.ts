/**
 * The default app: the seeds' scenario as a real deployment. `npm run synth` writes it to dist/,
 * `npm run synth:helm` to a Helm chart in build/helm/.
 *
 * To add charts (an ObservabilityStack, say) create them in `buildApp`; to add files to dist/ (Helm
 * values), return them from `extraDistFiles`: the writer places them and the dist test covers them.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { App, Chart } from 'cdk8s';
import {
  Exposure, McpArgoCdApplication, McpNamespace, McpServer, McpTransport, ObservabilityArchitecture,
  ObservabilityStack, PermissionProfile, RbacScope,
} from './lib/index.ts';
import { renderHelmChart } from './lib/dist/helm-chart.ts';
import { formatSummary, summarizeServers } from './lib/dist/summary.ts';
import { renderDist, writeFiles, type DistFile } from './lib/dist/write-dist.ts';

export const REPO_URL = 'https://github.com/toolhive-cdk8s/toolhive-cdk8s.git';

export function buildApp(): App {
  // outdir is unused: main() writes dist/ itself (App.synth's layout cannot order files for kubectl).
  const app = new App();

  // The seeds' tutorial stack, architecture 1: proxies push OTLP to the collector, Prometheus
  // scrapes the collector, traces go to Jaeger. Every server below is wired to it.
  const monitoring = new Chart(app, 'monitoring');
  const observability = new ObservabilityStack(monitoring, 'Observability', {
    architecture: ObservabilityArchitecture.collectorScrape(),
  });

  const servers = new Chart(app, 'mcp-servers', { namespace: 'mcp-servers' });
  new McpNamespace(servers, 'Namespace', { name: 'mcp-servers' });
  new McpServer(servers, 'fetch', {
    image: 'docker.io/mcp/fetch:2025.4.7',
    // It fetches URLs for a model: public addresses only, nothing inside the cluster, never the
    // cloud metadata and credential endpoints.
    permissionProfile: PermissionProfile.internet(),
    observability,
  });
  new McpServer(servers, 'gofetch', {
    image: 'ghcr.io/stackloklabs/gofetch/server:1.0.1',
    transport: McpTransport.streamableHttp({ port: 8080 }),
    permissionProfile: PermissionProfile.internet(),
    // Reachable from outside through the cluster's shared Gateway (dist/gateway-api/).
    exposure: Exposure.httpRoute({
      gatewayName: 'mcp-gateway', gatewayNamespace: 'gateway-system', hostnames: ['gofetch.mcp.example.com'], controllerNamespace: 'gateway-system',
    }),
    observability,
  });

  // A team's own namespace; its proxy's role is one ClusterRole bound only there.
  const team = new Chart(app, 'team-a', { namespace: 'team-a' });
  new McpNamespace(team, 'Namespace', { name: 'team-a', labels: { team: 'a' } });
  new McpServer(team, 'everything', {
    image: 'docker.io/mcp/everything:2025.8.4',
    proxy: { rbacScope: RbacScope.namespace(['team-a']) },
    observability,
  });

  const argocd = new Chart(app, 'argocd');
  new McpArgoCdApplication(argocd, 'Application', {
    repoUrl: REPO_URL,
    // The kinds kustomization.yaml leaves out: the monitors and rules (their CRDs come with the
    // kube-prometheus-stack Application) and the HTTPRoute (Gateway API installed by the cluster).
    directories: ['dist/prometheus-operator', 'dist/gateway-api'],
  });
  return app;
}

/** Files besides the synthesized objects: the Helm values of every ObservabilityStack. */
export function extraDistFiles(app: App): DistFile[] {
  return app.node.findAll()
    .filter((c): c is ObservabilityStack => c instanceof ObservabilityStack)
    .flatMap((stack) => stack.helmValuesFiles('helm-values'));
}

export function main(argv: readonly string[]): void {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      outdir: { type: 'string', default: process.env.CDK8S_OUTDIR ?? 'dist' },
      helm: { type: 'string' },
      'chart-version': { type: 'string', default: '0.1.0' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const app = buildApp();
  const files = renderDist(app, { extraFiles: extraDistFiles(app) });
  if (values.helm) {
    writeFiles(values.helm, renderHelmChart(files, { version: values['chart-version'] }));
    console.log(`Helm chart written to ${values.helm}`);
  } else {
    writeFiles(values.outdir, files);
    console.log(`${files.length} files written to ${values.outdir}/`);
  }
  if (!values.quiet) {
    console.log(formatSummary(summarizeServers(app)));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2));
}
