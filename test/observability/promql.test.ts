/**
 * Every PromQL expression the stack ships (alerts, dashboard panels, dashboard variables) parses with
 * the Prometheus grammar, reads only series the proxy exports, as listed by its METRICS, and keeps
 * servers of the same name in different namespaces apart.
 */
import { describe, expect, test } from '@jest/globals';
import { GRAFANA_VARIABLES } from '../../lib/_observability-dashboard.ts';
import { NAMESPACE_LABEL } from '../../lib/_observability-queries.ts';
import { ObservabilityArchitecture } from '../../lib/observability-stack.ts';
import { validateProxyConfig } from '../../proxy/src/config-validate.ts';
import { METRICS } from '../../proxy/src/telemetry/metric-definitions.ts';
import {
  groupings, interpolateGrafana, metricSelectors, one, proxySeriesNames, selectorLabels, synthStack, type Manifest,
} from './_support.ts';

function alertRules(objects: readonly Manifest[]): { alert: string; expr: string; annotations: Record<string, string>; labels: Record<string, string>; for: string }[] {
  return one(objects, 'PrometheusRule', 'toolhive-mcp-alerts').spec.groups.flatMap((g: any) => g.rules);
}

function dashboard(objects: readonly Manifest[]): any {
  const cm = one(objects, 'ConfigMap', 'toolhive-mcp-dashboard');
  return JSON.parse(cm.data!['toolhive-mcp.json']!);
}

function dashboardExpressions(objects: readonly Manifest[]): { where: string; expr: string }[] {
  const model = dashboard(objects);
  const panels = model.panels.flatMap((p: any) => p.targets.map((t: any) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr })));
  // label_values() is Grafana's, not PromQL: its first argument is a series selector.
  const variables = model.templating.list.filter((v: any) => v.type === 'query')
    .map((v: any) => ({ where: `variable ${v.name}`, expr: /^label_values\((.*), *[a-z_]+\)$/.exec(v.query.query)![1]! }));
  return [...panels, ...variables];
}

describe.each([
  ObservabilityArchitecture.collectorScrape(), ObservabilityArchitecture.collectorRemoteWrite(),
  ObservabilityArchitecture.directScrape(), ObservabilityArchitecture.hybrid(),
])('PromQL of architecture $name', (architecture) => {
  const objects = synthStack({ architecture }).objects();
  const known = proxySeriesNames();

  test.each(alertRules(objects).map((r) => [r.alert, r.expr]))('alert %s parses and reads only exported series', (_alert, expr) => {
    const names = metricSelectors(expr);
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
  });

  test('every dashboard query parses (after Grafana interpolation) and reads only exported series', () => {
    const exprs = dashboardExpressions(objects);
    expect(exprs.length).toBeGreaterThanOrEqual(9);
    for (const { where, expr } of exprs) {
      const names = metricSelectors(interpolateGrafana(expr, GRAFANA_VARIABLES));
      expect({ where, unknown: names.filter((n) => !known.has(n)), empty: names.length === 0 }).toEqual({ where, unknown: [], empty: false });
    }
  });

  test('every aggregation and every join is per (namespace, server), never by job or instance (they differ between architectures)', () => {
    const all = [
      ...alertRules(objects).map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
      ...dashboardExpressions(objects).filter((e) => e.where.startsWith('panel')),
    ];
    for (const { where, expr } of all) {
      const found = groupings(interpolateGrafana(expr, GRAFANA_VARIABLES));
      expect({ where, count: found.length > 0 }).toEqual({ where, count: true });
      for (const g of found) {
        // `by`/`on` naming both labels first: a `without`, an `ignoring` or a bare aggregation could merge two
        // teams' servers of the same name, and a join on `server` alone would let one team's traffic decide
        // another team's alert.
        expect({ where, operator: g.operator, byOrOn: ['by', 'on'].includes(g.clause), identity: g.labels.slice(0, 2) })
          .toEqual({ where, operator: g.operator, byOrOn: true, identity: [NAMESPACE_LABEL, 'server'] });
        expect(g.labels.filter((l) => l === 'job' || l === 'instance')).toEqual([]);
      }
    }
  });
});

describe('the parser check itself', () => {
  test('rejects a syntax error, an unknown name, and a nameless selector', () => {
    expect(() => metricSelectors('sum(rate(toolhive_mcp_requests_total[5m])')).toThrow(/does not parse/);
    expect(metricSelectors('rate(toolhive_mcp_request_total[5m])').filter((n) => !proxySeriesNames().has(n))).toEqual(['toolhive_mcp_request_total']);
    expect(() => metricSelectors('{__name__=~"toolhive_.*"}')).toThrow(/without a metric name/);
  });
});

describe('coverage of the proxy metrics', () => {
  const objects = synthStack().objects();

  test('the dashboard shows every metric the proxy exports', () => {
    const shown = new Set(dashboardExpressions(objects).flatMap((e) => metricSelectors(interpolateGrafana(e.expr, GRAFANA_VARIABLES))));
    const missing = Object.values(METRICS).filter((m) => ![...shown].some((s) => s === m.name || s.startsWith(`${m.name}_`)));
    expect(missing.map((m) => m.name)).toEqual([]);
  });

  test('the dashboard has the panels the issue asks for', () => {
    const titles = dashboard(objects).panels.map((p: any) => p.title);
    expect(titles).toEqual(expect.arrayContaining([
      'Request rate by server and method', 'Error ratio', 'Latency p50 / p95 / p99', 'Tool calls by tool', 'Active sessions', 'Backend up', 'Backend restarts',
    ]));
    const latency = dashboard(objects).panels.find((p: any) => p.title === 'Latency p50 / p95 / p99');
    expect(latency.targets.map((t: any) => /histogram_quantile\(([0-9.]+),/.exec(t.expr)![1])).toEqual(['0.5', '0.95', '0.99']);
  });

  test('the seven alerts exist, each with a severity, a summary, a description and a runbook', () => {
    const rules = alertRules(objects);
    expect(rules.map((r) => r.alert)).toEqual([
      'McpServerErrorRatioHigh', 'McpServerLatencyP99High', 'McpToolFailureRatioHigh', 'McpBackendDown', 'McpBackendRestartStorm', 'McpServerStdinStalled',
      'McpServerNoTraffic',
    ]);
    for (const r of rules) {
      expect(['critical', 'warning', 'info']).toContain(r.labels.severity);
      expect(Object.keys(r.annotations).sort()).toEqual(['description', 'runbook', 'summary']);
      expect(r.annotations.runbook!.length).toBeGreaterThan(80);
    }
  });

  test('the restart runbook names only restart reasons the proxy records', async () => {
    const { RESTART_REASONS } = await import('../../proxy/src/telemetry/telemetry.ts');
    const runbook = alertRules(objects).find((r) => r.alert === 'McpBackendRestartStorm')!.annotations.runbook!;
    const quoted = [...runbook.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]!);
    expect(quoted.length).toBeGreaterThanOrEqual(4);
    expect(quoted.filter((q) => !(RESTART_REASONS as readonly string[]).includes(q))).toEqual([]);
  });

  test('alert thresholds from props land in the expressions', () => {
    const rules = alertRules(synthStack({ alertThresholds: { errorRatio: 0.1, p99LatencySeconds: 2.5, toolFailureRatio: 0.5, restartsPer15m: 7, stdinBacklogBytes: 4096 } }).objects());
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
    expect(byName.McpServerErrorRatioHigh).toMatch(/\) > 0\.1\n/);
    expect(byName.McpServerLatencyP99High).toMatch(/\) > 2\.5\n/);
    expect(byName.McpToolFailureRatioHigh).toMatch(/\) > 0\.5\n/);
    expect(byName.McpBackendRestartStorm).toMatch(/ > 7$/);
    expect(byName.McpServerStdinStalled).toMatch(/\) > 4096\n/);
  });

  test('the stdin alert fires for a backlog one replica held for 10 minutes, or for a connection the proxy gave up because stdin was stuck', async () => {
    const { RESTART_REASONS } = await import('../../proxy/src/telemetry/telemetry.ts');
    const rule = alertRules(objects).find((r) => r.alert === 'McpServerStdinStalled')!;
    expect(rule.expr).toBe(`max by (namespace, server) (min_over_time(${METRICS.stdinBacklog.name}[10m])) > 1048576\n`
      + `or on (namespace, server)\nsum by (namespace, server) (increase(${METRICS.backendRestarts.name}{reason="stdin_stalled"}[15m])) > 0`);
    expect(RESTART_REASONS).toContain('stdin_stalled');
    // The backlog clause is below the proxy's own default limit, where clients get 503.
    const { limits } = validateProxyConfig({ server: 'x', backend: { type: 'spawn', command: 'x' } });
    expect(Number(/\) > (\d+)\n/.exec(rule.expr)![1])).toBeLessThan(limits.maxStdinBacklogBytes);
  });

  test('the p99 alert reads the histogram buckets by namespace, server and le', () => {
    const expr = alertRules(objects).find((r) => r.alert === 'McpServerLatencyP99High')!.expr;
    expect(expr).toContain(`histogram_quantile(0.99, sum by (namespace, server, le) (rate(${METRICS.requestDuration.name}_bucket[5m])))`);
  });
});

describe('two servers of the same name in different namespaces', () => {
  const objects = synthStack().objects();

  test('the namespace label is not one the proxy exports itself (it would be renamed exported_namespace on scrape)', () => {
    const clashing = Object.values(METRICS).filter((metric) => (metric.labels as readonly string[]).includes(NAMESPACE_LABEL));
    expect(clashing.map((metric) => metric.name)).toEqual([]);
  });

  test('every alert names the namespace wherever it names the server', () => {
    for (const rule of alertRules(objects)) {
      for (const [key, text] of Object.entries(rule.annotations)) {
        const servers = text.split('{{ $labels.server }}').length - 1;
        const qualified = text.split('{{ $labels.namespace }}/{{ $labels.server }}').length - 1;
        expect({ alert: rule.alert, key, unqualified: servers - qualified }).toEqual({ alert: rule.alert, key, unqualified: 0 });
      }
      expect(rule.annotations.summary).toContain('{{ $labels.namespace }}/{{ $labels.server }}');
    }
  });

  test('the dashboard has a namespace variable, and the server variable lists the servers of the namespaces chosen', () => {
    const variables = dashboard(objects).templating.list;
    expect(variables.map((v: any) => v.name)).toEqual(['datasource', NAMESPACE_LABEL, 'server']);
    const [, namespace, server] = variables;
    expect(namespace.query.query).toBe(`label_values(${METRICS.requests.name}, ${NAMESPACE_LABEL})`);
    // "All" must not hide series without the label (a pushed series the collector could not attribute).
    expect(namespace).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
    expect(server.query.query).toBe(`label_values(${METRICS.requests.name}{${NAMESPACE_LABEL}=~"$namespace"}, server)`);
    expect(server.definition).toBe(server.query.query);
  });

  test('every panel selector is narrowed by both variables, and every legend names the namespace', () => {
    for (const panel of dashboard(objects).panels) {
      for (const target of panel.targets) {
        for (const s of selectorLabels(interpolateGrafana(target.expr, GRAFANA_VARIABLES))) {
          expect({ panel: panel.title, labels: s.labels }).toEqual({ panel: panel.title, labels: expect.arrayContaining([NAMESPACE_LABEL, 'server']) });
        }
        expect(target.expr).toContain(`${NAMESPACE_LABEL}=~"$namespace"`);
        expect(target.legendFormat).toMatch(/^\{\{namespace\}\}\/\{\{server\}\}/);
      }
    }
  });
});
