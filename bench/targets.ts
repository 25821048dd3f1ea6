/**
 * What the benchmark measures: every target fronts (or is) the same server-everything over stdio.
 * Adding one is an entry in TARGETS: how to start it, and the driver that talks to it.
 */
import path from 'node:path';
import { attachTarget } from './attach-target.ts';
import { PROXY_CLI, PROXY_COMMAND, PROXY_NODE_FLAGS, proxyBuildProblem } from './proxy-command.ts';
import type { Driver } from './drivers.ts';
import { HttpConnection } from './http-client.ts';
import { HttpDriver, StdioDriver } from './drivers.ts';
import type { Mode } from './load.ts';
import { initializeBody } from './mcp.ts';
import { LOOPBACK_ONLY, REPO_ROOT, SERVER_EVERYTHING, freePort, spawnTarget, waitUntil } from './processes.ts';
import type { SpawnedTarget } from './processes.ts';

export interface StartContext {
  /** Directory for the targets' logs and config files. */
  readonly workDir: string;
  readonly timeoutMs: number;
}

export interface RunningTarget {
  /** Root of the process tree whose RSS and CPU are reported. */
  readonly pid: number;
  /**
   * Roots of other process trees on the request path that are not the target's own (the attach
   * target's API emulator and the server behind it): not in its RSS and CPU, but
   * bench/process-cost.ts reads them.
   */
  readonly alsoOnPath?: readonly number[];
  /** A fresh driver per cell: connections and sessions never leak from one cell into the next. */
  driver(): Driver;
  stop(): Promise<void>;
}

export interface TargetSpec {
  /** Used in --targets and as the row label. */
  readonly name: string;
  readonly description: string;
  /** A bridge people use today: the "best peer" of the ratios is the best of these. */
  readonly peer: boolean;
  /** Our own proxy: the subject of the ratios. */
  readonly ours?: boolean;
  /** Highest concurrency worth running per mode, and why (shown in the report). */
  readonly limits?: { readonly [M in Mode]?: number } & { readonly reason: string };
  /** Why the target cannot run here, or undefined when it can. */
  unavailable(): string | undefined;
  start(context: StartContext): Promise<RunningTarget>;
}

const node = process.execPath;
const serverStdio = [SERVER_EVERYTHING, 'stdio'];

/**
 * Ready once an initialize over HTTP gets a 200. The probe's session is ended at once: a bridge
 * that runs a server per session would otherwise keep one alive, and count it in its RSS.
 */
async function answersInitialize(port: number): Promise<boolean> {
  const connection = new HttpConnection('127.0.0.1', port);
  try {
    const response = await connection.request('POST', '/mcp', 'Accept: application/json, text/event-stream\r\n', initializeBody(1), 2000);
    if (response.status !== 200) return false;
    if (response.sessionId) await connection.request('DELETE', '/mcp', `Mcp-Session-Id: ${response.sessionId}\r\n`, undefined, 2000);
    return true;
  } finally {
    connection.close();
  }
}

async function httpTarget(name: string, context: StartContext, command: (port: number) => { args: string[]; env?: Record<string, string> }): Promise<RunningTarget> {
  const port = await freePort();
  const { args, env } = command(port);
  const spawned: SpawnedTarget = spawnTarget(node, args, { logFile: path.join(context.workDir, `${name}.log`), env });
  await waitUntil(name, spawned, () => answersInitialize(port));
  return {
    pid: spawned.child.pid!,
    driver: () => new HttpDriver({ host: '127.0.0.1', port, timeoutMs: context.timeoutMs }),
    stop: spawned.stop,
  };
}


const STDIO_RELAY = path.join(REPO_ROOT, 'bench/stdio-relay.ts');

export const TARGETS: readonly TargetSpec[] = [
  {
    name: 'proxy',
    description: `our proxy, spawn backend (\`${PROXY_COMMAND} -- <server>\`, as its bin and image run it)`,
    peer: false,
    ours: true,
    unavailable: () => proxyBuildProblem(),
    start: (context) => httpTarget('proxy', context, (port) => ({
      args: [...PROXY_NODE_FLAGS, PROXY_CLI, '--host', '127.0.0.1', '--port', String(port), '--metrics-port', '0', '--', node, ...serverStdio],
    })),
  },
  attachTarget,
  {
    name: 'proxy-relay',
    description: 'our proxy, spawn backend, with a pass-through process between it and the server (`bench/stdio-relay.ts`): what one more process on the path costs by itself, for reading `proxy-attach`',
    peer: false,
    unavailable: () => proxyBuildProblem(),
    start: (context) => httpTarget('proxy-relay', context, (port) => ({
      // The relay runs with the proxy's V8 flags, as the attach target's emulator does.
      args: [...PROXY_NODE_FLAGS, PROXY_CLI, '--host', '127.0.0.1', '--port', String(port), '--metrics-port', '0', '--', node, ...PROXY_NODE_FLAGS, STDIO_RELAY, node, ...serverStdio],
    })),
  },
  {
    name: 'stdio',
    description: 'raw stdio client: JSON lines straight into the server (upper bound, no HTTP)',
    peer: false,
    unavailable: () => undefined,
    async start(context) {
      const spawned = spawnTarget(node, serverStdio, { logFile: path.join(context.workDir, 'stdio.log'), pipeStdio: true });
      const probe = new StdioDriver(spawned.child, 2000);
      await waitUntil('stdio', spawned, async () => (await probe.unit(0, 'ready')) === undefined);
      await probe.finish();
      return { pid: spawned.child.pid!, driver: () => new StdioDriver(spawned.child, context.timeoutMs), stop: spawned.stop };
    },
  },
  {
    name: 'server-http',
    description: "the server's own Streamable HTTP transport (`server-everything streamableHttp`)",
    peer: true,
    unavailable: () => undefined,
    start: (context) => httpTarget('server-http', context, (port) => ({
      args: ['--import', LOOPBACK_ONLY, SERVER_EVERYTHING, 'streamableHttp'],
      env: { PORT: String(port) },
    })),
  },
  {
    name: 'mcp-proxy',
    description: '`mcp-proxy --server stream -- <server>` (one shared child)',
    peer: true,
    unavailable: () => undefined,
    start: (context) => httpTarget('mcp-proxy', context, (port) => ({
      args: [path.join(REPO_ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs'), '--host', '127.0.0.1', '--port', String(port), '--server', 'stream', '--', node, ...serverStdio],
    })),
  },
  {
    name: 'sg-stateful',
    description: '`supergateway --outputTransport streamableHttp --stateful` (a child per session)',
    peer: true,
    limits: { unique: 20, reason: 'spawns a server process per session' },
    unavailable: () => undefined,
    start: (context) => httpTarget('sg-stateful', context, (port) => ({
      args: ['--import', LOOPBACK_ONLY, path.join(REPO_ROOT, 'node_modules/supergateway/dist/index.js'), '--stdio', `${node} ${serverStdio.join(' ')}`,
        '--outputTransport', 'streamableHttp', '--stateful', '--port', String(port), '--logLevel', 'none'],
    })),
  },
  {
    name: 'sg-stateless',
    description: '`supergateway --outputTransport streamableHttp` (stateless: a child per request)',
    peer: true,
    limits: { shared: 20, unique: 1, reason: 'spawns a server process per request (20 units at once take over 10 s)' },
    unavailable: () => undefined,
    start: (context) => httpTarget('sg-stateless', context, (port) => ({
      args: ['--import', LOOPBACK_ONLY, path.join(REPO_ROOT, 'node_modules/supergateway/dist/index.js'), '--stdio', `${node} ${serverStdio.join(' ')}`,
        '--outputTransport', 'streamableHttp', '--port', String(port), '--logLevel', 'none'],
    })),
  },
];
