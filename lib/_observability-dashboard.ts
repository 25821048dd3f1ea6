/**
 * The Grafana dashboard for MCP servers behind the proxy, as Grafana's JSON model. It is loaded by the
 * kube-prometheus-stack Grafana sidecar from a ConfigMap labelled `grafana_dashboard: "1"`.
 *
 * Queries use Grafana's own variables: `$server` (multi-select of the `server` label) and
 * `$__rate_interval` (a rate window that is always at least four scrape intervals, whatever the zoom).
 * They are interpolated by Grafana before PromQL parsing; GRAFANA_VARIABLES says with what, so tests
 * can do the same.
 */
import { METRICS } from '../proxy/src/telemetry/metric-definitions.ts';
import {
  backendRestarts, backendUp, errorRatio, gaugeSum, latencyQuantile, requestRate, seriesName, toolCallRate,
} from './_observability-queries.ts';

export const DASHBOARD_UID = 'toolhive-mcp';

/** Grafana variables used in the queries, with a representative value each (what Grafana substitutes). */
export const GRAFANA_VARIABLES: Readonly<Record<string, string>> = {
  $__rate_interval: '2m',
  $server: 'fetch|github',
};

export interface DashboardPanel {
  readonly title: string;
  readonly unit: string;
  readonly targets: readonly { readonly expr: string; readonly legendFormat: string }[];
  readonly description: string;
}

const sel = { matchers: ['server=~"$server"'] };
const win = { ...sel, window: '$__rate_interval' };

/** The panels, in reading order: traffic, errors, latency, tools, load, backend health. */
export function dashboardPanels(): DashboardPanel[] {
  return [
    {
      title: 'Request rate by server and method',
      unit: 'reqps',
      description: `rate(${seriesName(METRICS.requests)})`,
      targets: [{ expr: requestRate(['server', 'method'], win), legendFormat: '{{server}} {{method}}' }],
    },
    {
      title: 'Error ratio',
      unit: 'percentunit',
      description: 'Requests that did not succeed (error, timeout, rejected) / all requests',
      targets: [{ expr: errorRatio(win), legendFormat: '{{server}}' }],
    },
    {
      title: 'Failures by status',
      unit: 'reqps',
      description: 'Which outcome the failures are: error (JSON-RPC error), timeout, rejected (a limit)',
      targets: [{ expr: requestRate(['server', 'status'], win, 'status!="success"'), legendFormat: '{{server}} {{status}}' }],
    },
    {
      title: 'Latency p50 / p95 / p99',
      unit: 's',
      description: `histogram_quantile over ${seriesName(METRICS.requestDuration, 'bucket')}`,
      targets: [0.5, 0.95, 0.99].map((q) => ({ expr: latencyQuantile(q, win), legendFormat: `{{server}} p${Math.round(q * 100)}` })),
    },
    {
      title: 'Tool calls by tool',
      unit: 'reqps',
      description: `rate(${seriesName(METRICS.toolCalls)}) by tool and status`,
      targets: [{ expr: toolCallRate(['server', 'tool', 'status'], win), legendFormat: '{{server}} {{tool}} {{status}}' }],
    },
    {
      title: 'Active sessions',
      unit: 'short',
      description: 'Live MCP sessions by transport',
      targets: [{ expr: gaugeSum(METRICS.sessions, ['server', 'transport'], sel), legendFormat: '{{server}} {{transport}}' }],
    },
    {
      title: 'Open connections and in-flight requests',
      unit: 'short',
      description: 'Client connections (HTTP requests and SSE streams) and requests waiting for the backend',
      targets: [
        { expr: gaugeSum(METRICS.activeConnections, ['server'], sel), legendFormat: '{{server}} connections' },
        { expr: gaugeSum(METRICS.inFlight, ['server'], sel), legendFormat: '{{server}} in flight' },
      ],
    },
    {
      title: 'Backend up',
      unit: 'short',
      description: '1 = attached and MCP handshake done',
      targets: [{ expr: backendUp(sel), legendFormat: '{{server}} {{backend}}' }],
    },
    {
      title: 'Backend restarts',
      unit: 'short',
      description: 'Backend losses recovered by the proxy, by reason',
      targets: [{ expr: backendRestarts(['server', 'backend', 'reason'], win), legendFormat: '{{server}} {{reason}}' }],
    },
  ];
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
        {
          name: 'server',
          label: 'MCP server',
          type: 'query',
          datasource: { type: 'prometheus', uid: '${datasource}' },
          query: { query: `label_values(${seriesName(METRICS.requests)}, server)`, refId: 'server' },
          definition: `label_values(${seriesName(METRICS.requests)}, server)`,
          multi: true,
          includeAll: true,
          allValue: '.+',
          refresh: 2,
          current: { text: 'All', value: '$__all' },
        },
      ],
    },
    panels,
  };
}
