/**
 * How the benchmark starts our proxy: the same file and the same Node flags as its bin. The flags
 * are read from the shebang of proxy/src/cli.ts (which the image's entrypoint repeats), so the
 * numbers can never come from a proxy configured differently from the one users run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './processes.ts';

export const PROXY_CLI = path.join(REPO_ROOT, 'proxy/src/cli.ts');

/** `#!/usr/bin/env -S node --flag ...` → `['--flag', ...]`. */
export function shebangNodeFlags(source: string): string[] {
  const shebang = source.split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env(?: -S)? node((?: --?[\w=.-]+)*)\s*$/.exec(shebang);
  if (!match) throw new Error(`unexpected shebang in ${PROXY_CLI}: ${JSON.stringify(shebang)}`);
  return match[1]!.split(' ').filter(Boolean);
}

export const PROXY_NODE_FLAGS: readonly string[] = fs.existsSync(PROXY_CLI) ? shebangNodeFlags(fs.readFileSync(PROXY_CLI, 'utf8')) : [];

/** `node <flags> proxy/src/cli.ts`, for target descriptions. */
export const PROXY_COMMAND = ['node', ...PROXY_NODE_FLAGS, 'proxy/src/cli.ts'].join(' ');
