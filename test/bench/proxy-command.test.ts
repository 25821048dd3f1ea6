import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { PROXY_NODE_FLAGS, shebangNodeFlags } from '../../bench/proxy-command.ts';

describe('how the benchmark runs the proxy', () => {
  test('with the Node flags of the bin, which the image entrypoint repeats', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync('proxy/Dockerfile', 'utf8'));
    expect(entrypoint).not.toBeNull();
    const [nodeBinary, ...rest] = JSON.parse(entrypoint![1]!) as string[];
    expect(nodeBinary).toMatch(/node$/);
    expect(rest.slice(0, -1)).toEqual(PROXY_NODE_FLAGS);
    expect(rest.at(-1)).toMatch(/proxy\/src\/cli\.ts$/);
    expect(PROXY_NODE_FLAGS.length).toBeGreaterThan(0);
  });

  test('reads flags from a shebang, and fails on one it does not understand', () => {
    expect(shebangNodeFlags('#!/usr/bin/env -S node --max-semi-space-size=4 --no-warnings\n')).toEqual(['--max-semi-space-size=4', '--no-warnings']);
    expect(shebangNodeFlags('#!/usr/bin/env node\n')).toEqual([]);
    expect(() => shebangNodeFlags('#!/bin/sh\n')).toThrow(/unexpected shebang/);
  });
});
