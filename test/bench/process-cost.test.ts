/**
 * The measuring tools behind docs/attach.md's account of the attach hop: the machine's cost of a
 * round trip to another process (bench/wake-cost.ts) and the per-process counters that
 * bench/process-cost.ts reads from /proc, checked against real processes doing known work.
 */
import { expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { perRequest, processCounters, processLabel } from '../../bench/process-cost.ts';
import { REPO_ROOT } from '../../bench/processes.ts';
import { measureWakeCost, wakeCostSummary } from '../../bench/wake-cost.ts';

test('the wake cost is measured over a pipe and over TCP, with both processes free and on one core', () => {
  const results = measureWakeCost(100);
  const kinds = results.map((r) => `${r.transport} ${r.placement}`);
  expect(kinds.slice(0, 2)).toEqual(['pipe any core', 'tcp any core']);
  // One core needs taskset (util-linux); where it is missing only the free placement is measured.
  if (kinds.length > 2) expect(kinds.slice(2)).toEqual(['pipe one core', 'tcp one core']);
  for (const r of results) {
    expect(r.p50Us).toBeGreaterThan(0);
    expect(r.p50Us).toBeLessThan(100_000);
    expect(r.cpuUs).toBeGreaterThan(0);
  }
  const summary = wakeCostSummary(results);
  expect(summary).toMatch(/^pipe \d+ µs \(\d+ µs CPU\) on any core/);
  expect(summary).toContain('; loopback TCP ');
}, 60_000);

test('process counters move with the work a process does: CPU time and write calls', () => {
  const before = processCounters(process.pid)!;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'counters-')), 'f');
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < 50; i++) fs.writeSync(fd, 'x');
  fs.closeSync(fd);
  // 30 ms of CPU, however long a busy machine takes to give them.
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= 30_000) break;
  }
  const after = processCounters(process.pid)!;
  expect(after.writeCalls - before.writeCalls).toBeGreaterThanOrEqual(50);
  expect(after.runNs - before.runNs).toBeGreaterThanOrEqual(20_000_000);
  const row = perRequest('me', before, after, 10, 1);
  expect(row.writes).toBeGreaterThanOrEqual(5);
  expect(row.cpuUs).toBeGreaterThanOrEqual(2000);
  expect(processCounters(2 ** 22 + 1)).toBeUndefined(); // beyond pid_max: no such process
});

test('a process is named by its script, past preloaded modules, or by the package it runs', async () => {
  const relay = spawn(process.execPath, ['--import', path.join(REPO_ROOT, 'bench/orphan-guard.ts'), 'bench/stdio-relay.ts', 'sleep', '5'], { cwd: REPO_ROOT, stdio: ['pipe', 'ignore', 'ignore'] });
  const server = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(processLabel(relay.pid!)).toBe('bench/stdio-relay.ts');
    expect(processLabel(server.pid!)).toBe('@modelcontextprotocol/server-everything');
  } finally {
    relay.kill('SIGKILL');
    server.kill('SIGKILL');
  }
});
