/**
 * Turns a run's rows into the printed table, the issue's ratios and the `docs/benchmarks.md`
 * section. Only the text between the proxy-bench markers is ever replaced; other sections of the
 * file (the synth benchmark, the notes on what changed) are left as they are.
 */
import type { CellResult, Mode } from './load.ts';
import type { TreeUsage } from './proc-tree.ts';

export interface Row {
  readonly target: string;
  readonly mode: Mode;
  readonly concurrency: number;
  readonly result?: CellResult;
  readonly usage?: TreeUsage;
  /** CPU used during the cell by everything but the target's tree and the generator, % of one core: other work on the machine. */
  readonly otherCpuPercent?: number;
  /** The rate of each round, in round order, when the cell ran in several (`result` merges them). */
  readonly roundRates?: readonly number[];
  /** Why the cell was not run. */
  readonly skipped?: string;
}

export interface TargetInfo {
  readonly name: string;
  readonly description: string;
  readonly peer: boolean;
  readonly ours: boolean;
  /** Why it was left out of the run, if it was. */
  readonly unavailable?: string;
}

export interface RunInfo {
  readonly date: string;
  readonly machine: string;
  readonly loadAverage: string;
  /** One message to another process and back, from bench/wake-cost.ts: what each extra process on a path costs here. */
  readonly wakeCost: string;
  readonly versions: string;
  readonly command: string;
  readonly settings: string;
  readonly durationSeconds: number;
}

export interface Run {
  readonly info: RunInfo;
  readonly targets: readonly TargetInfo[];
  readonly rows: readonly Row[];
}

export const START_MARKER = '<!-- proxy-bench:start -->';
export const END_MARKER = '<!-- proxy-bench:end -->';
export const CHANGES_HEADING = '## What we changed and what it gained';

const ms = (value: number | undefined): string => (value === undefined ? '–' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value).toString());
const int = (value: number): string => Math.round(value).toLocaleString('en-US');
const pct = (row: Row): number => (row.result!.requests === 0 ? 0 : (row.result!.ok / row.result!.requests) * 100);

function errorsText(result: CellResult): string {
  const entries = Object.entries(result.errors).filter(([, n]) => n > 0);
  return entries.length === 0 ? '–' : entries.map(([kind, n]) => `${kind}: ${n}`).join(', ');
}

const HEADER = ['target', 'mode', 'conc', 'requests', 'success %', 'req/s', 'min', 'avg', 'p50', 'p95', 'p99', 'max', 'errors', 'RSS MB tree', 'RSS MB root', 'target CPU %', 'gen CPU %', 'other CPU %'];

function cells(row: Row): string[] {
  if (!row.result) return [row.target, row.mode, String(row.concurrency), `not run: ${row.skipped ?? ''}`, ...HEADER.slice(4).map(() => '')];
  const { result, usage } = row;
  const l = result.latency;
  return [
    row.target, row.mode, String(row.concurrency), int(result.requests), pct(row).toFixed(pct(row) === 100 ? 0 : 2), int(result.rate),
    ms(l?.min), ms(l?.avg), ms(l?.p50), ms(l?.p95), ms(l?.p99), ms(l?.max), errorsText(result),
    usage ? (usage.peakRssBytes / 1e6).toFixed(0) : '–',
    usage ? (usage.peakRootRssBytes / 1e6).toFixed(0) : '–',
    usage ? Math.round((usage.cpuSeconds / (result.elapsedMs / 1000)) * 100).toString() : '–',
    Math.round(result.generatorCpuPercent).toString(),
    row.otherCpuPercent === undefined ? '–' : Math.max(0, Math.round(row.otherCpuPercent)).toString(),
  ];
}

/** Rows ordered for reading: mode, then concurrency, then target in the run's target order. */
function ordered(run: Run): Row[] {
  const order = new Map(run.targets.map((t, i) => [t.name, i]));
  const modeRank = (mode: Mode): number => (mode === 'shared' ? 0 : 1);
  return [...run.rows].sort((a, b) => modeRank(a.mode) - modeRank(b.mode) || a.concurrency - b.concurrency || order.get(a.target)! - order.get(b.target)!);
}

export function textTable(run: Run): string {
  const all = ordered(run);
  const rows = [HEADER, ...all.filter((r) => r.result).map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i <= 2 || i === 12 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  // Cells not run are listed under the table, so their reason does not widen a column.
  const skipped = all.filter((r) => !r.result).map((r) => `${r.target} ${r.mode} ${r.concurrency}: not run, ${r.skipped ?? ''}`);
  return [...rows.map(line), ...(skipped.length ? ['', ...skipped] : [])].join('\n');
}

export function markdownTable(run: Run): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i <= 2 || i === 12 ? '---' : '---:')).join('|')}|`];
  for (const row of ordered(run)) {
    if (!row.result) { lines.push(`| ${row.target} | ${row.mode} | ${row.concurrency} | not run: ${row.skipped ?? ''} |${' |'.repeat(HEADER.length - 4)}`); continue; }
    lines.push(`| ${cells(row).join(' | ')} |`);
  }
  return lines.join('\n');
}

function find(run: Run, target: string | undefined, mode: Mode, concurrency: number): Row | undefined {
  return run.rows.find((r) => r.target === target && r.mode === mode && r.concurrency === concurrency && r.result);
}

function bestPeer(run: Run, mode: Mode, concurrency: number): Row | undefined {
  const peers = new Set(run.targets.filter((t) => t.peer).map((t) => t.name));
  const rows = run.rows.filter((r) => peers.has(r.target) && r.mode === mode && r.concurrency === concurrency && r.result);
  return rows.sort((a, b) => b.result!.rate - a.result!.rate)[0];
}

/** The issue's targets, each as a line: measured value, goal, and whether it is met. */
export function ratioLines(run: Run): string[] {
  const ours = run.targets.find((t) => t.ours && !t.unavailable)?.name;
  if (!ours) return ['Our proxy was not part of this run: no ratios.'];
  const lines: string[] = [];
  const verdict = (met: boolean): string => (met ? 'met' : '**not met**');
  const versus = (mode: Mode, concurrency: number, goal: number, unit: string): void => {
    const row = find(run, ours, mode, concurrency);
    const peer = bestPeer(run, mode, concurrency);
    if (!row || !peer) { lines.push(`- ${mode} sessions at ${concurrency}: not measured in this run.`); return; }
    const ratio = row.result!.rate / peer.result!.rate;
    const misrouted = row.result!.errors['misrouted'] ?? 0;
    lines.push(`- ${mode} sessions at ${concurrency} clients: ${ours} ${int(row.result!.rate)} ${unit}, best peer ${peer.target} ${int(peer.result!.rate)} → **${ratio.toFixed(2)}×** (goal ≥ ${goal}×: ${verdict(ratio >= goal)}); success ${pct(row).toFixed(2)} %, misrouted ${misrouted}.`);
  };
  versus('shared', 200, 2, 'req/s');
  versus('unique', 200, 1.5, 'units/s');
  const at20 = find(run, ours, 'shared', 20);
  const raw20 = find(run, 'stdio', 'shared', 20);
  if (at20?.result?.latency && raw20?.result?.latency) {
    const added = at20.result.latency.p99 - raw20.result.latency.p99;
    const p50 = at20.result.latency.p50 - raw20.result.latency.p50;
    lines.push(`- p99 added over the raw stdio client at 20 clients (shared): ${ms(at20.result.latency.p99)} − ${ms(raw20.result.latency.p99)} = **${added.toFixed(2)} ms** (goal ≤ 2 ms: ${verdict(added <= 2)}); p50 added: ${p50.toFixed(2)} ms.`);
  } else {
    lines.push('- p99 added over raw stdio at 20 clients: not measured in this run.');
  }
  const at1000 = find(run, ours, 'shared', 1000);
  if (at1000?.result && at1000.usage) {
    const rss = at1000.usage.peakRootRssBytes / 1e6;
    lines.push(`- 1,000 concurrent clients (shared): success **${pct(at1000).toFixed(2)} %** (goal 100 %: ${verdict(pct(at1000) === 100)}), peak RSS of the proxy process **${rss.toFixed(0)} MB** (goal < 200 MB: ${verdict(rss < 200)}; of which ${(at1000.usage.peakRootAnonBytes / 1e6).toFixed(0)} MB its own, the rest shared file pages such as the node binary; with the server it spawns: ${(at1000.usage.peakRssBytes / 1e6).toFixed(0)} MB).`);
  } else {
    lines.push('- 1,000 concurrent clients: not measured in this run.');
  }
  // Issue 4: the attach backend keeps at least 80 % of the spawn backend's throughput. The relay
  // target tells how much of the gap one more process on the path makes by itself.
  const ofSpawn = (target: string): string[] => run.rows.filter((r) => r.target === target && r.mode === 'shared' && r.result).flatMap((r) => {
    const spawn = find(run, ours, 'shared', r.concurrency);
    if (!spawn) return [];
    const overall = `${r.concurrency}: ${((r.result!.rate / spawn.result!.rate) * 100).toFixed(0)} %`;
    // Round k of a cell ran the targets back to back: its ratio is the most side-by-side one there is.
    const rounds = r.roundRates && spawn.roundRates && r.roundRates.length === spawn.roundRates.length
      ? ` (rounds ${r.roundRates.map((rate, k) => ((rate / spawn.roundRates![k]!) * 100).toFixed(0)).join(', ')} %)`
      : '';
    return [`${overall}${rounds}`];
  });
  const attach = ofSpawn('proxy-attach');
  if (attach.length > 0) lines.push(`- Attach backend throughput as % of the spawn backend (shared, by concurrency; goal ≥ 80 %): ${attach.join(', ')}.`);
  const relay = ofSpawn('proxy-relay');
  if (relay.length > 0) lines.push(`- For reading the attach line: the spawn backend with a pass-through process before the server (\`proxy-relay\`, pipes only), as % of the spawn backend: ${relay.join(', ')}.`);
  return lines;
}

function maxGeneratorCpu(run: Run): number {
  return Math.round(Math.max(0, ...run.rows.map((r) => r.result?.generatorCpuPercent ?? 0)));
}

export function markdownSection(run: Run, chartFile: string | undefined): string {
  const { info } = run;
  const targetLines = run.targets.map((t) => `- \`${t.name}\`: ${t.description}${t.unavailable ? ` — **not run**: ${t.unavailable}` : ''}`);
  return [
    START_MARKER,
    '## Proxy benchmark (`npm run bench`)',
    '',
    '_Generated by `bench/run.ts`; edits between the markers are overwritten by the next run._',
    '',
    `- Date: ${info.date}`,
    `- Machine: ${info.machine}`,
    `- Load average (1, 5, 15 min): ${info.loadAverage}; other work during each cell: the other CPU column`,
    `- A 200-byte message to another process and back (\`node bench/wake-cost.ts\`, median round trip and this side's CPU): ${info.wakeCost}`,
    `- Versions: ${info.versions}`,
    `- Command: \`${info.command}\``,
    `- Settings: ${info.settings}`,
    '',
    'Every target is the same `@modelcontextprotocol/server-everything`, over stdio behind a bridge',
    '(`server-http` is its own HTTP transport), on the same machine as the load generator, all started',
    'by the harness and measured in one run: each target is warmed up, then for every mode and',
    'concurrency the targets take turns, in rounds that split the cell\'s time and in an order that',
    'rotates from turn to turn, so background noise falls on all of them alike; a row merges its',
    'rounds, and the attach ratios are also given round by round. Each worker is one client with its own keep-alive',
    'connection, calling `tools/call echo` with a unique payload and checking the reply. **shared**: the',
    'sessions are opened first and the workers share them (worker w uses session w mod N); **unique**:',
    'every unit is a whole session (initialize → notifications/initialized → tools/call → DELETE) and',
    'req/s counts units. Latencies (ms) are of successful requests or units. RSS is the peak of the',
    "target's whole process tree (tree: the bridge plus the servers it spawned) and of its root process",
    '(root: the bridge alone); target CPU and gen CPU are % of one core used by the target tree and by',
    'the generator during the cell, other CPU what the rest of the machine used meanwhile (other work,',
    'and children of a bridge that exited within the cell): two cores make 200 %.',
    '',
    'Ids repeat across sessions on purpose (each session counts from 1, as real clients do), so a',
    'reply delivered to the wrong session shows up as `misrouted`. The generator is one Node process',
    `with a hand-written keep-alive HTTP/1.1 client (bench/http-client.ts); its CPU peaked at ${maxGeneratorCpu(run)} % of one`,
    'core in this run (gen CPU column), leaving the rest of the two cores to the targets.',
    '',
    'Run it: `npm run bench` (this table), `npm run bench -- --quick` (a quick look, writes nothing),',
    '`npm run bench -- --help` for durations, concurrencies and targets.',
    '',
    'Targets:',
    ...targetLines,
    '',
    '### Against the issue\'s targets',
    '',
    ...ratioLines(run),
    '',
    '### Results',
    '',
    markdownTable(run),
    '',
    ...(chartFile ? [`![req/s and p99 latency against concurrency, per target](${chartFile})`, ''] : []),
    END_MARKER,
  ].join('\n');
}

const CHANGES_PLACEHOLDER = [
  CHANGES_HEADING,
  '',
  'Each change to the proxy\'s hot path, with the numbers before and after from `npm run bench`.',
  '',
  '_Nothing recorded yet._',
  '',
].join('\n');

/** The file's new text: the marked section replaced (or added), the changes section kept (or added). */
export function updateDocument(existing: string | undefined, section: string): string {
  let text = existing ?? '# Benchmarks\n\n';
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER);
  if (start >= 0 && end > start) {
    text = text.slice(0, start) + section + text.slice(end + END_MARKER.length);
  } else {
    text = `${text.trimEnd()}\n\n${section}\n`;
  }
  if (!text.includes(CHANGES_HEADING)) text = `${text.trimEnd()}\n\n${CHANGES_PLACEHOLDER}`;
  return text.endsWith('\n') ? text : `${text}\n`;
}
