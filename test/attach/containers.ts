/**
 * Small real processes to stand in a container where server-everything's behaviour would get in
 * the way of a precise assertion (what exactly reached stdin, when exactly output is written).
 */
import type { KubeApiEmulatorOptions } from '../support/kube-api-emulator/index.ts';

/**
 * Echoes every stdin line back on stdout after `delayMs`, and reports each line's length on
 * stderr (so tests can tell stderr never reaches the JSON stream).
 */
export function lineEcho(delayMs = 0): NonNullable<KubeApiEmulatorOptions['command']> {
  const script = `
    let tail = '';
    process.stdin.on('data', (chunk) => {
      const lines = (tail + chunk).split('\\n');
      tail = lines.pop();
      for (const line of lines) {
        process.stderr.write('stderr: line of ' + line.length + ' chars\\n');
        setTimeout(() => process.stdout.write(line + '\\n'), ${delayMs});
      }
    });`;
  return { command: process.execPath, args: ['-e', script] };
}
