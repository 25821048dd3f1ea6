/**
 * Every PromQL expression the stack ships (alerts, dashboard panels, dashboard variables) parses with
 * the Prometheus grammar and reads only series the proxy exports, as listed by its METRICS.
 */
import { describe, expect, test } from '@jest/globals';
import { GRAFANA_VARIABLES } from '../../lib/_observability-dashboard.ts';
import { ObservabilityArchitecture } from '../../lib/observability-stack.ts';
import { METRICS } from '../../proxy/src/telemetry/metric-definitions.ts';
import { interpolateGrafana, metricSelectors, one, proxySeriesNames, synthStack, type Manifest } from './_support.ts';

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

  test('queries group by the server label, never by job or instance (they differ between architectures)', () => {
    const all = [...alertRules(objects).map((r) => r.expr), ...dashboardExpressions(objects).map((e) => e.expr)];
    for (const expr of all) expect(expr).not.toMatch(/\b(by|on) \([^)]*\b(job|instance)\b/);
    for (const rule of alertRules(objects)) expect(rule.expr).toMatch(/by \(server/);
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

  test('the six alerts exist, each with a severity, a summary, a description and a runbook', () => {
    const rules = alertRules(objects);
    expect(rules.map((r) => r.alert)).toEqual([
      'McpServerErrorRatioHigh', 'McpServerLatencyP99High', 'McpToolFailureRatioHigh', 'McpBackendDown', 'McpBackendRestartStorm', 'McpServerNoTraffic',
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
    const rules = alertRules(synthStack({ alertThresholds: { errorRatio: 0.1, p99LatencySeconds: 2.5, toolFailureRatio: 0.5, restartsPer15m: 7 } }).objects());
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
    expect(byName.McpServerErrorRatioHigh).toMatch(/\) > 0\.1\n/);
    expect(byName.McpServerLatencyP99High).toMatch(/\) > 2\.5\n/);
    expect(byName.McpToolFailureRatioHigh).toMatch(/\) > 0\.5\n/);
    expect(byName.McpBackendRestartStorm).toMatch(/ > 7$/);
  });

  test('the p99 alert reads the histogram buckets by server and le', () => {
    const expr = alertRules(objects).find((r) => r.alert === 'McpServerLatencyP99High')!.expr;
    expect(expr).toContain(`histogram_quantile(0.99, sum by (server, le) (rate(${METRICS.requestDuration.name}_bucket[5m])))`);
  });
});
