import { jest } from '@jest/globals';
import { App, Chart } from 'cdk8s';

/** A fresh app with one chart in `namespace`. */
export function newChart(namespace: string | undefined = 'mcp'): Chart {
  return new Chart(new App(), 'test', namespace ? { namespace } : {});
}

export function objectsOf(chart: Chart): any[] {
  return chart.toJson();
}

export function find(chart: Chart, kind: string, name: string): any {
  const obj = objectsOf(chart).find((o) => o.kind === kind && o.metadata.name === name);
  if (!obj) {
    throw new Error(`no ${kind} ${name} in ${objectsOf(chart).map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return obj;
}

/** Runs `body` with console.warn captured (synth-time warnings are how weakened defaults are said), then restores it. */
export function withConsoleWarnings(body: (warnings: jest.SpiedFunction<typeof console.warn>) => void): void {
  const warnings = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    body(warnings);
  } finally {
    warnings.mockRestore();
  }
}
