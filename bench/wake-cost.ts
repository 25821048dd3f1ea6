/**
 * What it costs on this machine to hand a message to another process and get it back: the price of
 * every extra process on a request's path (the attach emulator, a relay, a bridge's child). A
 * 200-byte message goes to a child Node process that echoes it, over a pipe and over loopback TCP,
 * one at a time; the median round trip and this side's CPU per round trip are reported, with the
 * two processes free to run on any core and pinned to one core (`taskset`, when it is installed).
 *
 * On a VM whose idle vCPUs halt at once (no guest halt polling), a wakeup across cores costs tens
 * of microseconds of latency and of CPU, on one core a few: part of why each extra process on a
 * path (the attach backend's emulator) costs more here than its own CPU says (docs/attach.md).
 *
 *   node bench/wake-cost.ts [--round-trips N] [--json]
 *
 * `npm run bench` measures it once per run and puts it in the report's machine lines.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface WakeCost {
  readonly transport: 'pipe' | 'tcp';
  readonly placement: 'any core' | 'one core';
  /** Median round trip, µs. */
  readonly p50Us: number;
  /** CPU (user + system) this side spent per round trip, µs. */
  readonly cpuUs: number;
}

const MESSAGE = Buffer.alloc(200, 0x61);
const SELF = fileURLToPath(import.meta.url);
/** The echo peer: a pipe echo on stdio, or a TCP echo server that prints its port. */
const ECHO_PIPE = 'process.stdin.on("data", (d) => process.stdout.write(d));';
const ECHO_TCP = 'const s = require("node:net").createServer((c) => { c.setNoDelay(true); c.on("data", (d) => c.write(d)); });' +
  's.listen(0, "127.0.0.1", () => process.stdout.write(s.address().port + "\\n"));';

async function pingPong(write: (data: Buffer) => void, onData: (listener: (chunk: Buffer) => void) => void, roundTrips: number): Promise<{ p50Us: number; cpuUs: number }> {
  const latencies = new Float64Array(roundTrips);
  let pending = MESSAGE.length;
  let done: () => void = () => {};
  onData((chunk) => {
    pending -= chunk.length;
    if (pending <= 0) done();
  });
  const trip = (): Promise<void> => new Promise((resolve) => {
    done = resolve;
    pending = MESSAGE.length;
    write(MESSAGE);
  });
  for (let i = 0; i < Math.min(200, roundTrips); i++) await trip(); // warm-up: JIT, socket buffers
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < roundTrips; i++) {
    const start = process.hrtime.bigint();
    await trip();
    latencies[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort();
  return { p50Us: latencies[roundTrips >> 1]!, cpuUs: (cpu.user + cpu.system) / roundTrips };
}

async function measureHere(roundTrips: number, placement: WakeCost['placement']): Promise<WakeCost[]> {
  const results: WakeCost[] = [];
  const pipePeer = spawn(process.execPath, ['-e', ECHO_PIPE], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const r = await pingPong((d) => pipePeer.stdin.write(d), (f) => pipePeer.stdout.on('data', f), roundTrips);
    results.push({ transport: 'pipe', placement, ...r });
  } finally {
    pipePeer.kill();
  }
  const tcpPeer = spawn(process.execPath, ['-e', ECHO_TCP], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      tcpPeer.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      tcpPeer.once('exit', (code) => reject(new Error(`the TCP echo peer exited (${code})`)));
    });
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    try {
      const r = await pingPong((d) => socket.write(d), (f) => socket.on('data', f), roundTrips);
      results.push({ transport: 'tcp', placement, ...r });
    } finally {
      socket.destroy();
    }
  } finally {
    tcpPeer.kill();
  }
  return results;
}

function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Measures in child processes, so that pinning never touches the caller (the benchmark harness):
 * one child free to run anywhere, one pinned to the first core it may use.
 */
export function measureWakeCost(roundTrips = 5000): WakeCost[] {
  const run = (prefix: string[], placement: WakeCost['placement']): WakeCost[] => {
    const args = [...prefix, process.execPath, SELF, '--child', '--round-trips', String(roundTrips), '--placement', placement];
    return JSON.parse(execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 120_000 })) as WakeCost[];
  };
  const results = run([], 'any core');
  if (hasTaskset()) {
    try {
      const allowed = execFileSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' }).split(':').pop()!.trim();
      const first = allowed.split(',')[0]!.split('-')[0]!;
      results.push(...run(['taskset', '-c', first], 'one core'));
    } catch {
      // Pinning refused (a container without CAP_SYS_NICE may not set affinity): the free placement stands alone.
    }
  }
  return results;
}

/** One line for the report: "pipe 97 µs (CPU 40 µs) between cores, 15 µs (CPU 12 µs) on one core; TCP ...". */
export function wakeCostSummary(results: readonly WakeCost[]): string {
  const part = (transport: WakeCost['transport']): string => {
    const cells = results.filter((r) => r.transport === transport)
      .map((r) => `${r.p50Us.toFixed(0)} µs (${r.cpuUs.toFixed(0)} µs CPU) ${r.placement === 'any core' ? 'on any core' : 'on one core'}`);
    return `${transport === 'tcp' ? 'loopback TCP' : 'pipe'} ${cells.join(', ')}`;
  };
  return `${part('pipe')}; ${part('tcp')}`;
}

if (process.argv[1] === SELF) {
  const { values } = parseArgs({
    options: {
      'round-trips': { type: 'string', default: '5000' },
      json: { type: 'boolean', default: false },
      child: { type: 'boolean', default: false },
      placement: { type: 'string', default: 'any core' },
    },
  });
  const roundTrips = Number(values['round-trips']);
  if (!Number.isInteger(roundTrips) || roundTrips < 1 || roundTrips > 1_000_000) {
    throw new Error(`--round-trips: "${values['round-trips']}" is not a whole number from 1 to 1000000`);
  }
  if (values.child) {
    process.stdout.write(JSON.stringify(await measureHere(roundTrips, values.placement as WakeCost['placement'])));
  } else {
    const results = measureWakeCost(roundTrips);
    if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else {
      process.stdout.write('| transport | processes | round trip p50 | CPU per round trip (this side) |\n|---|---|---|---|\n');
      for (const r of results) process.stdout.write(`| ${r.transport} | ${r.placement} | ${r.p50Us.toFixed(1)} µs | ${r.cpuUs.toFixed(1)} µs |\n`);
    }
  }
}
