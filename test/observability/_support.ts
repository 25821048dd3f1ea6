/**
 * Shared test support for the ObservabilityStack: synthesis, a PromQL selector extractor on the real
 * Prometheus grammar, the set of series the proxy exports (derived from METRICS here, independently
 * of the library's own helper), and a guard against fields a CRD schema does not know.
 */
import { readFileSync } from 'node:fs';
import { Chart, Testing, type App } from 'cdk8s';
import { Construct } from 'constructs';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { METRICS } from '../../proxy/src/telemetry/metric-definitions.ts';
import type { ProxyObservabilityTarget } from '../../lib/observability-binding.ts';
import { ObservabilityStack, type ObservabilityStackProps } from '../../lib/observability-stack.ts';

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name?: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly [k: string]: unknown };
  readonly spec?: any;
  readonly data?: Record<string, string>;
  readonly [k: string]: unknown;
}

export interface Synth {
  readonly app: App;
  readonly chart: Chart;
  readonly stack: ObservabilityStack;
  /** The stack's chart, synthesized. */
  objects(): Manifest[];
  /** Every chart of the app, synthesized. */
  all(): Manifest[];
}

/** GIVEN a chart with a namespace of its own (so namespace stamping is exercised) and a stack in it. */
export function synthStack(props?: ObservabilityStackProps): Synth {
  const app = Testing.app();
  const chart = new Chart(app, 'monitoring-chart', { namespace: 'default' });
  const stack = new ObservabilityStack(chart, 'Observability', props);
  return {
    app, chart, stack,
    objects: () => chart.toJson() as Manifest[],
    all: () => app.charts.flatMap((c) => c.toJson() as Manifest[]),
  };
}

/** A minimal proxy for the binding contract (the real McpServer is exercised in wiring.test.ts). */
export function fakeProxy(app: App, server = 'fetch', namespace = 'team-a'): { chart: Chart; target: ProxyObservabilityTarget } {
  const chart = new Chart(app, `proxy-${server}`, { namespace });
  const scope = new Construct(chart, 'Proxy');
  return {
    chart,
    target: {
      scope, serverName: server, namespace,
      selectorLabels: { 'app.kubernetes.io/name': 'toolhive-proxy', 'app.kubernetes.io/instance': server },
      metricsPortName: 'metrics', metricsPort: 9464,
    },
  };
}

export function byKind(objects: readonly Manifest[], kind: string): Manifest[] {
  return objects.filter((o) => o.kind === kind);
}

export function one(objects: readonly Manifest[], kind: string, name: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} "${name}", found ${found.length}`);
  return found[0]!;
}

/** Series names the proxy exports: from METRICS, histograms expanded to their three series. */
export function proxySeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const metric of Object.values(METRICS)) {
    if (metric.type === 'histogram') ['_bucket', '_sum', '_count'].forEach((suffix) => names.add(metric.name + suffix));
    else names.add(metric.name);
  }
  return names;
}

/**
 * Parses a PromQL expression with the Prometheus project's own grammar and returns the metric name of
 * every vector selector. Throws on a syntax error, and on a selector without a metric name (a
 * `{__name__=~...}` would escape the check).
 */
export function metricSelectors(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 20), node.to + 20))}`);
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (!id) errors.push(`selector without a metric name: ${expr.slice(node.from, node.to)}`);
        else names.push(expr.slice(id.from, id.to));
      }
    },
  });
  if (errors.length > 0) throw new Error(`PromQL does not parse: ${errors.join('; ')}\n${expr}`);
  return names;
}

export interface Grouping {
  /** `sum`, `min`... for an aggregation; `and`, `unless`, `/`... for a binary operation. */
  readonly operator: string;
  /** `by`, `without`, `on` or `ignoring`; `none` when an aggregation has no modifier (it collapses every label). */
  readonly clause: 'by' | 'without' | 'on' | 'ignoring' | 'none';
  readonly labels: readonly string[];
}

/**
 * Every aggregation's `by`/`without` and every binary operation's `on`/`ignoring`, parsed with the
 * Prometheus grammar. A binary operation without a matching clause is left out: it matches on all the
 * labels its operands have, which their own aggregations decide.
 */
export function groupings(expr: string): Grouping[] {
  metricSelectors(expr); // throws on a syntax error
  const out: Grouping[] = [];
  const labelsOf = (node: { getChild(name: string): { getChildren(name: string): { from: number; to: number }[] } | null }) =>
    (node.getChild('GroupingLabels')?.getChildren('LabelName') ?? []).map((l) => expr.slice(l.from, l.to));
  parser.parse(expr).iterate({
    enter: (ref) => {
      const node = ref.node;
      if (ref.name === 'AggregateExpr') {
        const op = node.getChild('AggregateOp')!;
        const modifier = node.getChild('AggregateModifier');
        const clause = !modifier ? 'none' : modifier.getChild('By') ? 'by' : 'without';
        out.push({ operator: expr.slice(op.from, op.to), clause, labels: modifier ? labelsOf(modifier) : [] });
      }
      if (ref.name === 'MatchingModifierClause') {
        const prev = node.prevSibling;
        const operator = prev ? expr.slice(prev.from, prev.to) : '?';
        out.push({ operator, clause: node.getChild('On') ? 'on' : 'ignoring', labels: labelsOf(node) });
      }
    },
  });
  return out;
}

/** The label names each vector selector matches on, e.g. `x{a="1", b=~"2"}` gives `["a", "b"]`. */
export function selectorLabels(expr: string): { readonly metric: string; readonly labels: readonly string[] }[] {
  metricSelectors(expr);
  const out: { metric: string; labels: string[] }[] = [];
  parser.parse(expr).iterate({
    enter: (ref) => {
      if (ref.name !== 'VectorSelector') return;
      const id = ref.node.getChild('Identifier')!;
      const matchers = ref.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
      out.push({
        metric: expr.slice(id.from, id.to),
        labels: matchers.map((m) => { const l = m.getChild('LabelName')!; return expr.slice(l.from, l.to); }),
      });
    },
  });
  return out;
}

/** Grafana interpolates its variables before the query reaches Prometheus; so do we, before parsing. */
export function interpolateGrafana(expr: string, variables: Readonly<Record<string, string>>): string {
  // Longest names first, so `$server` cannot eat the start of `$serverName`.
  return Object.keys(variables).sort((a, b) => b.length - a.length)
    .reduce((e, name) => e.split(name).join(variables[name]!), expr);
}

// ---- unknown-field guard: compare an object's keys against a CRD's OpenAPI schema ------------------

type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: boolean | Schema; 'x-kubernetes-preserve-unknown-fields'?: boolean };

const schemas = new Map<string, Schema>();

export function crdSchema(file: string, version: string): Schema {
  const cached = schemas.get(`${file}@${version}`);
  if (cached) return cached;
  const crd = parseYaml(readFileSync(new URL(`../../../shared/crds/${file}`, import.meta.url), 'utf8'));
  const v = crd.spec.versions.find((x: { name: string }) => x.name === version);
  if (!v) throw new Error(`${file} has no version ${version}`);
  schemas.set(`${file}@${version}`, v.schema.openAPIV3Schema);
  return v.schema.openAPIV3Schema;
}

/** Paths of fields the schema does not declare (apiVersion/kind/metadata are the API server's). */
export function unknownFields(value: unknown, schema: Schema, path = ''): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields']) return [];
  if (Array.isArray(value)) return schema.items ? value.flatMap((v, i) => unknownFields(v, schema.items!, `${path}[${i}]`)) : [];
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (path === '' && ['apiVersion', 'kind', 'metadata'].includes(key)) continue;
    const child = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (!child) {
      if (schema.additionalProperties !== true) out.push(`${path}.${key}`);
      continue;
    }
    out.push(...unknownFields(v, child, `${path}.${key}`));
  }
  return out;
}

/** Every string leaf with its path. */
export function stringLeaves(value: unknown, path = ''): { path: string; value: string }[] {
  if (typeof value === 'string') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => stringLeaves(v, `${path}.${k}`));
  }
  return [];
}

/** Every key with its path (keys say what a value is: `password`, `token`...). */
export function keyPaths(value: unknown, path = ''): { path: string; key: string; value: unknown }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => keyPaths(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => [{ path: `${path}.${k}`, key: k, value: v }, ...keyPaths(v, `${path}.${k}`)]);
  }
  return [];
}
