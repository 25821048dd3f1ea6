/**
 * The Grafana dashboard for MCP servers behind the proxy, as Grafana's JSON model. It is loaded by the
 * kube-prometheus-stack Grafana sidecar from a ConfigMap labelled `grafana_dashboard: "1"`.
 *
 * Queries use Grafana's own variables: `$namespace` and `$server` (multi-selects of the two labels that
 * identify a server; the server list follows the namespaces chosen) and `$__rate_interval` (a rate window
 * that is always at least four scrape intervals, whatever the zoom). Every series is drawn per
 * (namespace, server): two teams' "fetch" servers are two lines, never one.
 * They are interpolated by Grafana before PromQL parsing; GRAFANA_VARIABLES says with what, so tests
 * can do the same.
 */
import { METRICS } from '../proxy/src/telemetry/metric-definitions.ts';
import {
  backendRestarts, backendUp, errorRatio, gaugeMax, gaugeSum, latencyQuantile, NAMESPACE_LABEL, requestRate, selector, seriesName, toolCallRate,
} from './_observability-queries.ts';

export const DASHBOARD_UID = 'toolhive-mcp';

/** Grafana variables used in the queries, with a representative value each (what Grafana substitutes). */
export const GRAFANA_VARIABLES: Readonly<Record<string, string>> = {
  $__rate_interval: '2m',
  $namespace: 'team-a|team-b',
  $server: 'fetch|github',
};

export interface DashboardPanel {
  readonly title: string;
  readonly unit: string;
  readonly targets: readonly { readonly expr: string; readonly legendFormat: string }[];
  readonly description: string;
}

const sel = { matchers: [`${NAMESPACE_LABEL}=~"$namespace"`, 'server=~"$server"'] };
const win = { ...sel, window: '$__rate_interval' };
/** The legend of a series: which server (namespace/name), then what the panel splits it by. */
const legend = (...extra: string[]) => [`{{${NAMESPACE_LABEL}}}/{{server}}`, ...extra.map((l) => `{{${l}}}`)].join(' ');

/** The panels, in reading order: traffic, errors, latency, tools, load, backend health. */
export function dashboardPanels(): DashboardPanel[] {
  return [
    {
      title: 'Request rate by server and method',
      unit: 'reqps',
      description: `rate(${seriesName(METRICS.requests)})`,
      targets: [{ expr: requestRate(['method'], win), legendFormat: legend('method') }],
    },
    {
      title: 'Error ratio',
      unit: 'percentunit',
      description: 'Requests that did not succeed (error, timeout, rejected) / all requests',
      targets: [{ expr: errorRatio(win), legendFormat: legend() }],
    },
    {
      title: 'Failures by status',
      unit: 'reqps',
      description: 'Which outcome the failures are: error (JSON-RPC error), timeout, rejected (a limit)',
      targets: [{ expr: requestRate(['status'], win, 'status!="success"'), legendFormat: legend('status') }],
    },
    {
      title: 'Latency p50 / p95 / p99',
      unit: 's',
      description: `histogram_quantile over ${seriesName(METRICS.requestDuration, 'bucket')}`,
      targets: [0.5, 0.95, 0.99].map((q) => ({ expr: latencyQuantile(q, win), legendFormat: `${legend()} p${Math.round(q * 100)}` })),
    },
    {
      title: 'Tool calls by tool',
      unit: 'reqps',
      description: `rate(${seriesName(METRICS.toolCalls)}) by tool and status`,
      targets: [{ expr: toolCallRate(['tool', 'status'], win), legendFormat: legend('tool', 'status') }],
    },
    {
      title: 'Active sessions',
      unit: 'short',
      description: 'Live MCP sessions by transport',
      targets: [{ expr: gaugeSum(METRICS.sessions, ['transport'], sel), legendFormat: legend('transport') }],
    },
    {
      title: 'Open connections and in-flight requests',
      unit: 'short',
      description: 'Client connections (HTTP requests and SSE streams) and requests waiting for the backend',
      targets: [
        { expr: gaugeSum(METRICS.activeConnections, [], sel), legendFormat: `${legend()} connections` },
        { expr: gaugeSum(METRICS.inFlight, [], sel), legendFormat: `${legend()} in flight` },
      ],
    },
    {
      title: 'Stdin backlog',
      unit: 'bytes',
      description: "Bytes sent toward the stdio server's stdin that it has not taken yet, the largest among the server's proxy replicas; at limits.maxStdinBacklogBytes a replica refuses new requests and reports not ready",
      targets: [{ expr: gaugeMax(METRICS.stdinBacklog, [], sel), legendFormat: legend() }],
    },
    {
      title: 'Backend up',
      unit: 'short',
      description: '1 = attached and MCP handshake done',
      targets: [{ expr: backendUp(sel), legendFormat: legend('backend') }],
    },
    {
      title: 'Backend restarts',
      unit: 'short',
      description: 'Backend losses recovered by the proxy, by reason',
      targets: [{ expr: backendRestarts(['backend', 'reason'], win), legendFormat: legend('reason') }],
    },
  ];
}

/** A multi-select query variable over the values of `label` in the series `series` selects. */
function labelVariable(label: string, title: string, series: string, allValue: string): Record<string, unknown> {
  const query = `label_values(${series}, ${label})`;
  return {
    name: label,
    label: title,
    type: 'query',
    datasource: { type: 'prometheus', uid: '${datasource}' },
    query: { query, refId: label },
    definition: query,
    multi: true,
    includeAll: true,
    allValue,
    refresh: 2,
    current: { text: 'All', value: '$__all' },
  };
}

/** The dashboard JSON model (schemaVersion 39: Grafana 10 and later). */
export function dashboardJson(): Record<string, unknown> {
  const width = 12;
  const height = 8;
  const panels = dashboardPanels().map((p, i) => ({
    id: i + 1,
    type: 'timeseries',
    title: p.title,
    description: p.description,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { x: (i % 2) * width, y: Math.floor(i / 2) * height, w: width, h: height },
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi' } },
    targets: p.targets.map((t, j) => ({
      refId: String.fromCharCode(65 + j),
      datasource: { type: 'prometheus', uid: '${datasource}' },
      expr: t.expr,
      legendFormat: t.legendFormat,
    })),
  }));
  return {
    uid: DASHBOARD_UID,
    title: 'MCP servers (ToolHive proxy)',
    tags: ['mcp', 'toolhive'],
    timezone: 'browser',
    schemaVersion: 39,
    editable: false,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' },
        // "All" namespaces is `.*`, not `.+`: a series the collector could not attribute to a pod has no
        // namespace label, and the dashboard should show it rather than hide it.
        labelVariable(NAMESPACE_LABEL, 'Namespace', seriesName(METRICS.requests), '.*'),
        labelVariable('server', 'MCP server', selector(seriesName(METRICS.requests), [`${NAMESPACE_LABEL}=~"$namespace"`]), '.+'),
      ],
    },
    panels,
  };
}
