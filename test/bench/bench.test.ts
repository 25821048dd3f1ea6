/**
 * A smoke-sized run of the proxy benchmark: a few seconds, checking correctness, not speed. Every
 * request through every target must succeed with its own payload; the report writer must produce
 * its sections without touching the rest of the file.
 */
import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chartSvg } from '../../bench/chart.ts';
import { runBenchmark } from '../../bench/harness.ts';
import { HttpDriver, StdioDriver } from '../../bench/drivers.ts';
import { mergeCells, runCell, summarize } from '../../bench/load.ts';
import type { CellResult } from '../../bench/load.ts';
import { checkReply, messagesOf } from '../../bench/mcp.ts';
import { CHANGES_HEADING, END_MARKER, START_MARKER, markdownSection, ratioLines, textTable, updateDocument } from '../../bench/report.ts';
import type { Run } from '../../bench/report.ts';
import { TARGETS } from '../../bench/targets.ts';

const proxyReady = TARGETS.find((t) => t.name === 'proxy')!.unavailable() === undefined;
const targets = [...(proxyReady ? ['proxy'] : []), 'stdio', 'server-http'];

describe('reply checks', () => {
  test('an echo of another payload is misrouted', () => {
    const messages = messagesOf('application/json', '{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"Echo: b"}]}}')!;
    expect(checkReply(messages, 7, 'a')).toBe('misrouted');
    expect(checkReply(messages, 7, 'b')).toBeUndefined();
  });

  test('a reply to another id is misrouted, an error reply is a jsonrpc failure', () => {
    expect(checkReply([{ id: 8, result: { content: [{ text: 'Echo: a' }] } }], 7, 'a')).toBe('misrouted');
    expect(checkReply([{ id: 7, error: { code: -32603 } }], 7, 'a')).toBe('jsonrpc');
  });

  test('SSE bodies are read message by message, notifications are skipped', () => {
    const body = 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message"}\n\nevent: message\ndata: {"jsonrpc":"2.0","id":3,"result":{"content":[{"text":"Echo: x"}]}}\n\n';
    expect(checkReply(messagesOf('text/event-stream', body)!, 3, 'x')).toBeUndefined();
  });

  test('fails unparseable bodies as invalid', () => {
    expect(messagesOf('application/json', 'not json')).toBeUndefined();
  });
});

test('the relay of the proxy-relay target passes bytes both ways and exits with its command', async () => {
  const relay = spawn(process.execPath, ['bench/stdio-relay.ts', process.execPath, '-e', 'process.stdin.pipe(process.stdout)'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  relay.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => relay.on('exit', resolve));
  relay.stdin.write('{"jsonrpc":"2.0","id":1}\n');
  relay.stdin.end('{"jsonrpc":"2.0","id":2}\n');
  expect(await exited).toBe(0);
  expect(out).toBe('{"jsonrpc":"2.0","id":1}\n{"jsonrpc":"2.0","id":2}\n');
});

test('a stdio driver made for a cell stops listening to the shared server when the cell ends', async () => {
  const server = spawn(process.execPath, ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'], { stdio: ['pipe', 'pipe', 'ignore'] });
  try {
    const listeners = (): number[] => [server.stdout.listenerCount('data'), server.listenerCount('exit')];
    const idle = listeners();
    for (let cell = 0; cell < 3; cell++) {
      const driver = new StdioDriver(server, 5000);
      expect(await driver.echo(0, `cell ${cell}`)).toBeUndefined();
      await driver.finish();
      expect(listeners()).toEqual(idle);
    }
  } finally {
    server.kill();
  }
}, 30_000);

test('a server that swaps replies is caught: every swapped reply counts as misrouted', async () => {
  // Answers each echo with the payload of the previous request, as a multiplexer mixing up ids would.
  let previous = 'nobody';
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    req.on('end', () => {
      if (req.method !== 'POST') { res.writeHead(200).end(); return; }
      const message = JSON.parse(body) as { id?: number; method: string; params?: { arguments?: { message: string } } };
      if (message.id === undefined) { res.writeHead(202).end(); return; }
      const result = message.method === 'initialize'
        ? { protocolVersion: '2025-06-18' }
        : { content: [{ type: 'text', text: `Echo: ${previous}` }] };
      previous = message.params?.arguments?.message ?? previous;
      const reply = JSON.stringify({ jsonrpc: '2.0', id: message.id, result });
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const driver = new HttpDriver({ host: '127.0.0.1', port, timeoutMs: 2000 });
    const result = await runCell(driver, { mode: 'shared', concurrency: 4, sessions: 2, durationMs: 200, timeoutMs: 2000, maxRequests: 200, tag: 't' });
    expect(result.requests).toBeGreaterThan(0);
    expect(result.ok).toBe(0);
    expect(result.errors).toEqual({ misrouted: result.requests });
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a server that never answers costs each request its timeout, and the cell still ends', async () => {
  const server = http.createServer(() => { /* never answers */ });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const driver = new HttpDriver({ host: '127.0.0.1', port, timeoutMs: 300 });
    const started = Date.now();
    const result = await runCell(driver, { mode: 'unique', concurrency: 3, sessions: 1, durationMs: 100, timeoutMs: 300, maxRequests: 100, tag: 't' });
    expect(result.errors).toEqual({ timeout: 3 });
    expect(Date.now() - started).toBeLessThan(2000);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('percentiles are nearest-rank over the full sample', () => {
  const summary = summarize(Float64Array.from({ length: 100 }, (_, i) => 100 - i))!;
  expect(summary).toMatchObject({ min: 1, p50: 50, p95: 95, p99: 99, max: 100, avg: 50.5 });
});

test('rounds of a cell merge into one result: counts and time add up, percentiles over every request', () => {
  const part = (ok: number, failed: number, elapsedMs: number, cpu: number, from: number) => {
    const samples = Float64Array.from({ length: ok }, (_, i) => from + i);
    const result: CellResult = { requests: ok + failed, ok, errors: failed ? { timeout: failed } : {}, elapsedMs, rate: ok / (elapsedMs / 1000), latency: summarize(samples), generatorCpuPercent: cpu };
    return { result, samples };
  };
  const { result, samples } = mergeCells([part(50, 1, 1000, 10, 1), part(50, 2, 3000, 30, 51)]);
  expect(samples).toHaveLength(100);
  expect(result).toMatchObject({ requests: 103, ok: 100, errors: { timeout: 3 }, elapsedMs: 4000, rate: 25, generatorCpuPercent: 25 });
  expect(result.latency).toMatchObject({ min: 1, p50: 50, p99: 99, max: 100 });
});

test('the attach ratio is given overall and round by round', () => {
  const row = (target: string, rate: number, roundRates: number[]) => ({
    target, mode: 'shared' as const, concurrency: 20, roundRates,
    result: { requests: rate, ok: rate, errors: {}, elapsedMs: 1000, rate, latency: undefined, generatorCpuPercent: 0 },
  });
  const run: Run = {
    info: { date: '', machine: '', loadAverage: '', wakeCost: '', versions: '', command: '', settings: '', durationSeconds: 1 },
    targets: [{ name: 'proxy', description: '', peer: false, ours: true }, { name: 'proxy-attach', description: '', peer: false, ours: false }],
    rows: [row('proxy', 1000, [900, 1000, 1100]), row('proxy-attach', 800, [810, 700, 880])],
  };
  expect(ratioLines(run)).toContain('- Attach backend throughput as % of the spawn backend (shared, by concurrency; goal ≥ 80 %): 20: 80 % (rounds 90, 70, 80 %).');
});

describe(`smoke run against ${targets.join(', ')}`, () => {
  let run: Run;

  test('every request in both modes succeeds with its own reply', async () => {
    run = await runBenchmark({
      targets,
      modes: ['shared', 'unique'],
      concurrency: { shared: [1, 16], unique: [1, 4] },
      durationSeconds: 0.6,
      rounds: 2,
      warmupSeconds: 0.2,
      sessions: 3,
      timeoutMs: 5000,
      maxRequests: 20_000,
      command: 'jest test/bench',
      wakeCostRoundTrips: 200,
      log: () => {},
    });
    expect(run.info.wakeCost).toMatch(/^pipe \d+ µs \(\d+ µs CPU\) on any core.*; loopback TCP \d+ µs/);
    expect(run.targets.filter((t) => t.unavailable)).toEqual([]);
    expect(run.rows).toHaveLength(targets.length * 4);
    for (const row of run.rows) {
      const label = `${row.target} ${row.mode} ${row.concurrency}`;
      expect({ label, errors: row.result!.errors }).toEqual({ label, errors: {} });
      expect(row.result!.requests).toBeGreaterThan(0);
      expect(row.result!.ok).toBe(row.result!.requests);
      expect(row.usage!.peakRssBytes).toBeGreaterThan(10e6);
      // Two turns of 0.3 s each, merged.
      expect(row.roundRates).toHaveLength(2);
      expect(row.result!.elapsedMs).toBeGreaterThanOrEqual(600);
    }
  }, 120_000);

  test('the report updates only its own section of the markdown file', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-')), 'benchmarks.md');
    const synth = '<!-- synth-bench:start -->\nsynth numbers\n<!-- synth-bench:end -->';
    fs.writeFileSync(file, `# Benchmarks\n\n${synth}\n\n${START_MARKER}\nold\n${END_MARKER}\n\n${CHANGES_HEADING}\n\nkept notes\n`);
    fs.writeFileSync(file, updateDocument(fs.readFileSync(file, 'utf8'), markdownSection(run, 'benchmarks.svg')));
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain(synth);
    expect(text).toContain('kept notes');
    expect(text).not.toContain('\nold\n');
    expect(text.split(START_MARKER)).toHaveLength(2);
    for (const heading of ['### Against the issue\'s targets', '### Results', '| target | mode | conc |', '- Machine:', '- A 200-byte message to another process and back', '- Versions:', '- Command: `jest test/bench`']) {
      expect(text).toContain(heading);
    }
    expect(textTable(run).split('\n')).toHaveLength(run.rows.length + 1); // no cell skipped here
    expect(ratioLines(run).length).toBeGreaterThan(0);
    expect(chartSvg(run)).toMatch(/^<svg[\s\S]*<path d="M[\s\S]*<\/svg>\n$/);
  });

  test('a missing file is created with the section and a changes section', () => {
    const text = updateDocument(undefined, markdownSection(run, undefined));
    expect(text.startsWith('# Benchmarks')).toBe(true);
    expect(text.indexOf(END_MARKER)).toBeLessThan(text.indexOf(CHANGES_HEADING));
  });
});
