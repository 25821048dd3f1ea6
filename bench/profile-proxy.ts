/**
 * Where the proxy spends its CPU under load: runs our proxy (spawn backend) with `--cpu-prof`, drives
 * it with the generator, stops it (the profile is written on exit), and prints self time by function
 * and by file. Not part of `npm run bench`; run it when the proxy's hot path changes:
 *
 *   node bench/profile-proxy.ts [--mode shared|unique] [--concurrency 200] [--duration 5] [--keep DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HttpDriver } from './drivers.ts';
import { HttpConnection } from './http-client.ts';
import { runCell } from './load.ts';
import type { Mode } from './load.ts';
import { initializeBody } from './mcp.ts';
import { REPO_ROOT, SERVER_EVERYTHING, freePort, killTargetsOnSignals, spawnTarget, waitUntil } from './processes.ts';
import { PROXY_CLI, PROXY_NODE_FLAGS, proxyBuildProblem } from './proxy-command.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] }

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'shared' },
    concurrency: { type: 'string', default: '200' },
    duration: { type: 'string', default: '5' },
    keep: { type: 'string' },
  },
});

/** Groups a script URL into what a reader acts on: a proxy module, a package, or Node itself. */
function owner(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return `node_modules/${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  return url.replace(`file://${REPO_ROOT}/`, '');
}

function top(map: Map<string, number>, total: number, count: number): string {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([name, ms]) => `${((ms / total) * 100).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${name}`).join('\n');
}

const buildProblem = proxyBuildProblem();
if (buildProblem) throw new Error(buildProblem);
killTargetsOnSignals();
const dir = values.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-profile-'));
fs.mkdirSync(dir, { recursive: true });
const port = await freePort();
const proxy = spawnTarget(process.execPath, [
  ...PROXY_NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${dir}`, PROXY_CLI,
  '--host', '127.0.0.1', '--port', String(port), '--metrics-port', '0', '--', process.execPath, SERVER_EVERYTHING, 'stdio',
], { logFile: path.join(dir, 'proxy.log') });
try {
  await waitUntil('proxy', proxy, async () => {
    const probe = new HttpConnection('127.0.0.1', port);
    try { return (await probe.request('POST', '/mcp', 'Accept: application/json, text/event-stream\r\n', initializeBody(1), 2000)).status === 200; } finally { probe.close(); }
  });
  const options = { mode: values.mode as Mode, concurrency: Number(values.concurrency), sessions: 10, timeoutMs: 10_000, maxRequests: 5_000_000 };
  await runCell(new HttpDriver({ host: '127.0.0.1', port, timeoutMs: 10_000 }), { ...options, durationMs: 1000, tag: 'warm' });
  const result = await runCell(new HttpDriver({ host: '127.0.0.1', port, timeoutMs: 10_000 }), { ...options, durationMs: Number(values.duration) * 1000, tag: 'profile' });
  process.stdout.write(`${values.mode} at ${values.concurrency}: ${Math.round(result.rate)} req/s, p99 ${result.latency?.p99.toFixed(2)} ms, errors ${JSON.stringify(result.errors)}\n`);
} finally {
  await proxy.stop();
}

const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile in ${dir}: did the proxy exit cleanly?`);
const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Profile;
const msPerSample = (profile.endTime - profile.startTime) / 1000 / Math.max(profile.samples.length, 1);
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
let idle = 0;
for (const node of profile.nodes) {
  const ms = (node.hitCount ?? 0) * msPerSample;
  if (ms === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  if (functionName === '(idle)') { idle += ms; continue; }
  total += ms;
  const where = owner(url);
  const name = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  byFile.set(where, (byFile.get(where) ?? 0) + ms);
}
process.stdout.write(`\nproxy CPU (not idle): ${total.toFixed(0)} ms, idle ${idle.toFixed(0)} ms; profile ${path.join(dir, file)}\n`);
process.stdout.write(`\nself time by file or package:\n${top(byFile, total, 20)}\n\nself time by function:\n${top(byFunction, total, 30)}\n`);
if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
