/**
 * A pass-through process between the proxy and the server: bytes from its stdin to the server's
 * stdin, from the server's stdout to its stdout, nothing else. The `proxy-relay` target puts it under
 * the spawn backend to measure what one more process on the path costs by itself, which is what the
 * attach path adds (the API emulator between the proxy and the server), minus WebSocket framing.
 *
 *   node bench/stdio-relay.ts <command> [args...]
 */
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: stdio-relay <command> [args...]\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.stdin.on('error', () => {});
// After the child's output is through: exit with its code once what is piped to stdout is written.
child.on('close', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
  process.stdin.destroy();
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
