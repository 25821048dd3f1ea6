/**
 * The chart of `docs/benchmarks.svg`, written by hand as SVG text (no dependency for four panels of
 * lines): rows are the modes, columns are throughput and p99 latency, both against concurrency.
 * Both axes are logarithmic: concurrency spans 1 to 1,000 and the targets differ by orders of
 * magnitude in throughput and latency, which a linear axis would flatten into the floor.
 */
import type { Mode } from './load.ts';
import type { Run } from './report.ts';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];
const PANEL_W = 420;
const PANEL_H = 260;
const MARGIN = { left: 64, right: 16, top: 34, bottom: 42 };
const LEGEND_H = 28;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Powers of ten covering [min, max]. */
function decades(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

const label = (value: number): string => (value >= 1000 ? `${value / 1000}k` : String(Number(value.toPrecision(1))));

interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

function panel(x0: number, y0: number, title: string, yLabel: string, series: readonly Series[]): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<text x="${x0 + PANEL_W / 2}" y="${y0 + PANEL_H / 2}" text-anchor="middle">${escape(title)}: no data</text>`;
  const xs = decades(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])));
  const ys = decades(Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1])));
  const [xMin, xMax, yMin, yMax] = [Math.log10(xs[0]!), Math.log10(xs.at(-1)!), Math.log10(ys[0]!), Math.log10(ys.at(-1)!)];
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const round = (v: number): number => Math.round(v * 10) / 10;
  const px = (x: number): number => round(x0 + MARGIN.left + (xMax === xMin ? w / 2 : ((Math.log10(x) - xMin) / (xMax - xMin)) * w));
  const py = (y: number): number => round(y0 + MARGIN.top + h - (yMax === yMin ? h / 2 : ((Math.log10(y) - yMin) / (yMax - yMin)) * h));
  const parts = [`<text x="${x0 + PANEL_W / 2}" y="${y0 + 20}" text-anchor="middle" font-weight="bold">${escape(title)}</text>`];
  for (const x of xs) {
    parts.push(`<line x1="${px(x)}" y1="${y0 + MARGIN.top}" x2="${px(x)}" y2="${y0 + MARGIN.top + h}" stroke="#ddd"/>`);
    parts.push(`<text x="${px(x)}" y="${y0 + MARGIN.top + h + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  for (const y of ys) {
    parts.push(`<line x1="${x0 + MARGIN.left}" y1="${py(y)}" x2="${x0 + MARGIN.left + w}" y2="${py(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${x0 + MARGIN.left - 6}" y="${py(y) + 4}" text-anchor="end">${label(y)}</text>`);
  }
  parts.push(`<text x="${x0 + MARGIN.left + w / 2}" y="${y0 + PANEL_H - 8}" text-anchor="middle">concurrent clients (log)</text>`);
  parts.push(`<text transform="translate(${x0 + 14},${y0 + MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`);
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
  }
  return parts.join('\n');
}

export function chartSvg(run: Run): string {
  const names = run.targets.filter((t) => !t.unavailable).map((t) => t.name);
  const color = new Map(names.map((n, i) => [n, COLORS[i % COLORS.length]!]));
  const modes: Mode[] = (['shared', 'unique'] as const).filter((m) => run.rows.some((r) => r.mode === m && r.result));
  const seriesOf = (mode: Mode, value: 'rate' | 'p99'): Series[] => names.map((name) => ({
    name,
    color: color.get(name)!,
    points: run.rows
      .filter((r) => r.target === name && r.mode === mode && r.result && r.result.ok > 0)
      .sort((a, b) => a.concurrency - b.concurrency)
      .map((r) => [r.concurrency, value === 'rate' ? r.result!.rate : r.result!.latency!.p99] as const)
      .filter(([, y]) => y > 0),
  }));
  const width = PANEL_W * 2;
  const height = LEGEND_H + PANEL_H * modes.length;
  const parts: string[] = [];
  names.forEach((name, i) => {
    const x = 10 + i * (width / Math.max(names.length, 1));
    parts.push(`<rect x="${x}" y="8" width="14" height="4" fill="${color.get(name)}"/><text x="${x + 18}" y="14">${escape(name)}</text>`);
  });
  modes.forEach((mode, row) => {
    const unit = mode === 'shared' ? 'req/s' : 'units/s';
    parts.push(panel(0, LEGEND_H + row * PANEL_H, `${mode} sessions: throughput`, `${unit} (log)`, seriesOf(mode, 'rate')));
    parts.push(panel(PANEL_W, LEGEND_H + row * PANEL_H, `${mode} sessions: p99 latency`, 'p99 ms (log)', seriesOf(mode, 'p99')));
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
