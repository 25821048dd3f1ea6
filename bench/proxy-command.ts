/**
 * How the benchmark starts our proxy: the compiled JavaScript its bin and image run
 * (`proxy/build/cli.js`, from `npm run build:proxy`), with the same Node flags. The flags are read
 * from the shebang of proxy/src/cli.ts (which the image's entrypoint repeats), so the numbers can
 * never come from a proxy configured differently from the one users run; a build older than its
 * source is refused, so they can never come from yesterday's proxy either.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './processes.ts';

const PROXY_SRC = path.join(REPO_ROOT, 'proxy/src');
const PROXY_BUILD = path.join(REPO_ROOT, 'proxy/build');
export const PROXY_CLI = path.join(PROXY_BUILD, 'cli.js');
const PROXY_CLI_SOURCE = path.join(PROXY_SRC, 'cli.ts');

/** `#!/usr/bin/env -S node --flag ...` → `['--flag', ...]`. */
export function shebangNodeFlags(source: string): string[] {
  const shebang = source.split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env(?: -S)? node((?: --?[\w=.-]+)*)\s*$/.exec(shebang);
  if (!match) throw new Error(`unexpected shebang in ${PROXY_CLI_SOURCE}: ${JSON.stringify(shebang)}`);
  return match[1]!.split(' ').filter(Boolean);
}

export const PROXY_NODE_FLAGS: readonly string[] = fs.existsSync(PROXY_CLI_SOURCE) ? shebangNodeFlags(fs.readFileSync(PROXY_CLI_SOURCE, 'utf8')) : [];

/** `node <flags> proxy/build/cli.js`, for target descriptions. */
export const PROXY_COMMAND = ['node', ...PROXY_NODE_FLAGS, 'proxy/build/cli.js'].join(' ');

/**
 * Why the proxy's build cannot be measured, or undefined when every source file has its compiled
 * file, no older than the source.
 */
export function proxyBuildProblem(src = PROXY_SRC, build = PROXY_BUILD): string | undefined {
  const sources = fs.readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  for (const file of sources) {
    const compiled = path.join(build, file.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(compiled)) return `${path.relative(REPO_ROOT, compiled)} is missing: run npm run build:proxy`;
    if (fs.statSync(compiled).mtimeMs < fs.statSync(path.join(src, file)).mtimeMs) {
      return `${path.relative(REPO_ROOT, compiled)} is older than its source: run npm run build:proxy`;
    }
  }
  return undefined;
}
