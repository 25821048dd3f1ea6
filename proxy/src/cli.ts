#!/usr/bin/env -S node --max-semi-space-size=16
/**
 * `toolhive-proxy`: runs the proxy as a process.
 *
 *   toolhive-proxy --config /etc/toolhive-proxy/config.json
 *   toolhive-proxy --port 8080 -- npx -y @modelcontextprotocol/server-everything
 *
 * Flags override the config file. SIGTERM/SIGINT drain (limits.shutdownGraceMs), a second signal
 * exits at once.
 *
 * The shebang fixes V8's young generation at 16 MiB per semi-space: room for the objects of a
 * thousand requests in flight, so they die young instead of being promoted, without the default's
 * growth to 64 MiB. At 1,000 concurrent clients the proxy's peak RSS was ~155 MiB with 16, ~190 MiB
 * with 32, ~250 MiB with Node's default and ~205 MiB with 4, where requests in flight outgrow the
 * young generation and are promoted (docs/benchmarks.md). The image's entrypoint passes the same flag.
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
