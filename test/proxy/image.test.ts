/**
 * No container engine runs here, so the image is checked as text against the repository it is built
 * from: what the Dockerfile copies exists and is in the build context, it runs as UID 65532 on Node
 * 24 with no shell, and the entrypoint is the CLI.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';

const dockerfile = readFileSync('proxy/Dockerfile', 'utf8');
const allowed = readFileSync('.dockerignore', 'utf8').split('\n').filter((line) => line.startsWith('!')).map((line) => line.slice(1));

describe('the proxy image', () => {
  test('copies only what exists and what .dockerignore lets into the build context', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect([source, existsSync(source)]).toEqual([source, true]);
      expect([source, allowed.some((entry) => source === entry || source.startsWith(`${entry}/`))]).toEqual([source, true]);
    }
    expect(readFileSync('.dockerignore', 'utf8').split('\n')).toContain('*');
  });

  test('runs the CLI on distroless Node 24 as UID 65532', () => {
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(stages.at(-1)).toMatch(/^gcr\.io\/distroless\/nodejs24-/);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(existsSync(entrypoint.at(-1)!.replace(/^\/app\//, ''))).toBe(true);
  });
});
