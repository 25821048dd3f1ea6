import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { PROXY_NODE_FLAGS, proxyBuildProblem, shebangNodeFlags } from '../../bench/proxy-command.ts';

describe('how the benchmark runs the proxy', () => {
  test('with the Node flags of the bin, which the image entrypoint repeats', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync('proxy/Dockerfile', 'utf8'));
    expect(entrypoint).not.toBeNull();
    const [nodeBinary, ...rest] = JSON.parse(entrypoint![1]!) as string[];
    expect(nodeBinary).toMatch(/node$/);
    expect(rest.slice(0, -1)).toEqual(PROXY_NODE_FLAGS);
    expect(rest.at(-1)).toMatch(/proxy\/build\/cli\.js$/);
    expect(PROXY_NODE_FLAGS.length).toBeGreaterThan(0);
  });

  test('with the flags of the toolhive-proxy bin, which runs the same build', () => {
    const manifest = JSON.parse(readFileSync('proxy/package.json', 'utf8')) as { bin: Record<string, string> };
    const bin = path.join('proxy', manifest.bin['toolhive-proxy']!);
    expect(shebangNodeFlags(readFileSync(bin, 'utf8'))).toEqual(PROXY_NODE_FLAGS);
    const help = spawnSync(bin, ['--help'], { encoding: 'utf8' });
    expect([help.status, help.stdout.split('\n')[0]]).toEqual([0, 'toolhive-proxy: one stdio MCP server, many Streamable HTTP and SSE clients']);
  });

  test('reads flags from a shebang, and fails on one it does not understand', () => {
    expect(shebangNodeFlags('#!/usr/bin/env -S node --max-semi-space-size=4 --no-warnings\n')).toEqual(['--max-semi-space-size=4', '--no-warnings']);
    expect(shebangNodeFlags('#!/usr/bin/env node\n')).toEqual([]);
    expect(() => shebangNodeFlags('#!/bin/sh\n')).toThrow(/unexpected shebang/);
  });

  test('measures a build as new as its source, and refuses a missing or stale one', () => {
    expect(proxyBuildProblem()).toBeUndefined();
    const root = mkdtempSync(path.join(tmpdir(), 'proxy-build-'));
    try {
      const src = path.join(root, 'src');
      const build = path.join(root, 'build');
      mkdirSync(path.join(src, 'mux'), { recursive: true });
      mkdirSync(path.join(build, 'mux'), { recursive: true });
      writeFileSync(path.join(src, 'mux/table.ts'), 'export {};\n');
      expect(proxyBuildProblem(src, build)).toMatch(/build\/mux\/table\.js is missing: run npm run build:proxy$/);
      writeFileSync(path.join(build, 'mux/table.js'), 'export {};\n');
      expect(proxyBuildProblem(src, build)).toBeUndefined();
      const past = new Date(Date.now() - 60_000);
      utimesSync(path.join(build, 'mux/table.js'), past, past);
      expect(proxyBuildProblem(src, build)).toMatch(/build\/mux\/table\.js is older than its source/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
