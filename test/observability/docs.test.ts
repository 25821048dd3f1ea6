/** docs/observability.md stays in step with what the stack ships: alerts, panels, chart versions. */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { METRICS } from '../../proxy/src/telemetry/metric-definitions.ts';
import { one, synthStack } from './_support.ts';

const doc = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');

describe('docs/observability.md', () => {
  const { stack, objects } = synthStack();
  const out = objects();

  test('has a runbook section for every alert', () => {
    const alerts: string[] = one(out, 'PrometheusRule', 'toolhive-mcp-alerts').spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
    for (const alert of alerts) expect(doc).toContain(`**${alert}**`);
  });

  test('maps every proxy metric and names every dashboard panel', () => {
    for (const metric of Object.values(METRICS)) expect(doc).toContain(`\`${metric.name}`);
    const panels: string[] = JSON.parse(one(out, 'ConfigMap', 'toolhive-mcp-dashboard').data!['toolhive-mcp.json']!).panels.map((p: any) => p.title);
    for (const title of panels) expect(doc).toContain(title);
  });

  test('states the pinned chart versions', () => {
    for (const r of stack.helmReleases()) expect(doc).toMatch(new RegExp(`\\| ${r.chart} \\| ${r.version.replace(/\./g, '\\.')}`));
  });

  test('draws the four architectures', () => {
    for (const name of ['collectorScrape()', 'collectorRemoteWrite()', 'directScrape()', 'hybrid()']) expect(doc).toContain(`\`${name}\``);
    expect(doc.match(/```\n \S/g)?.length).toBeGreaterThanOrEqual(4);
  });
});
