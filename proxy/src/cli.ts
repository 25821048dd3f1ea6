#!/usr/bin/env -S node --max-semi-space-size=16 --single-threaded-gc
/**
 * `toolhive-proxy`: runs the proxy as a process.
 *
 *   toolhive-proxy --config /etc/toolhive-proxy/config.json
 *   toolhive-proxy --port 8080 -- npx -y @modelcontextprotocol/server-everything
 *
 * Flags override the config file. SIGTERM/SIGINT drain (limits.shutdownGraceMs), a second signal
 * exits at once.
 *
 * The shebang's Node flags (the image's entrypoint and the bin, bin/toolhive-proxy.js, pass the same
 * ones; docs/benchmarks.md has the measurements):
 * - `--max-semi-space-size=16` fixes V8's young generation at 16 MiB per semi-space: room for the
 *   objects of a thousand requests in flight, so they die young instead of being promoted, without
 *   the default's growth to 64 MiB. Peak RSS at 1,000 concurrent clients: ~155 MiB with 16, ~190 with
 *   32, ~250 with Node's default, ~205 with 4 (requests in flight outgrow the young generation).
 * - `--single-threaded-gc` keeps garbage collection on the proxy's own thread. A proxy pod runs with
 *   a CPU limit of a core or less, beside other work; parallel GC threads spend that quota in bursts
 *   and take cores from the neighbours. On the 2-core benchmark machine, beside its MCP server and
 *   the load generator, the proxy's p99 added over raw stdio at 20 clients halved (~2 ms → ~1 ms).
 */
import { configFromArgs, HELP } from './cli-args.ts';
import { ProxyConfigError, type ProxyConfig } from './config.ts';
import { createLogger } from './log.ts';
import { startProxy } from './main.ts';

async function main(): Promise<void> {
  let parsed: { config: ProxyConfig; help: boolean };
  try {
    parsed = configFromArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`toolhive-proxy: ${(error as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return;
  }
  if (!parsed.config.backend) {
    process.stderr.write(`toolhive-proxy: no backend: give --config FILE, --http URL, or -- <command> [args...]\n\n${HELP}`);
    process.exit(2);
  }
  const level = parsed.config.logging?.level;
  const logger = createLogger({ level: level === 'debug' || level === 'info' || level === 'warn' || level === 'error' ? level : 'info' });
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  try {
    proxy = await startProxy(parsed.config, { logger });
  } catch (error) {
    if (error instanceof ProxyConfigError) process.stderr.write(`toolhive-proxy: ${error.message}\n`);
    else logger.error('proxy failed to start', { error });
    process.exit(error instanceof ProxyConfigError ? 2 : 1);
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    logger.info('signal received: draining', { signal });
    proxy.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

await main();
