/**
 * proxy/README.md quotes the committed benchmark run; `npm run bench` rewrites docs/benchmarks.md.
 * These checks fail when the two disagree, so a new run cannot leave the README's figures behind.
 */
import { expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../bench/processes.ts';

const benchmarks = fs.readFileSync(path.join(REPO_ROOT, 'docs/benchmarks.md'), 'utf8');
const readme = fs.readFileSync(path.join(REPO_ROOT, 'proxy/README.md'), 'utf8');

/** The README's table of the committed run: the rows between its intro line and the next blank line. */
function committedRunRows(): Map<string, string> {
  const intro = readme.indexOf('In the committed run');
  expect(intro).toBeGreaterThan(-1);
  const table = readme.slice(intro).split('\n\n')[1] ?? '';
  return new Map(table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| load')).map((l) => {
    const [, load, result] = l.split('|').map((c) => c.trim());
    return [load!, result!];
  }));
}

function measured(pattern: RegExp): RegExpExecArray {
  const match = pattern.exec(benchmarks);
  if (!match) throw new Error(`docs/benchmarks.md has no line matching ${pattern}`);
  return match;
}

test("proxy/README.md's benchmark figures are those of the run in docs/benchmarks.md", () => {
  const rows = committedRunRows();
  const row = (prefix: string): string => {
    const key = [...rows.keys()].find((k) => k.startsWith(prefix));
    if (!key) throw new Error(`proxy/README.md has no "${prefix}" row in its committed-run table`);
    return rows.get(key)!;
  };
  const [, sharedRate, sharedPeer, sharedRatio, sharedSuccess, misrouted] = measured(
    /shared sessions at 200 clients: proxy ([\d,]+) req\/s, best peer (\S+) [\d,]+ → \*\*([\d.]+)×\*\*.*; success ([\d.]+) %, misrouted (\d+)\./,
  );
  expect(row('200 clients, shared')).toContain(
    `${sharedRate} req/s, ${sharedRatio}× the best peer (${sharedPeer}), ${sharedSuccess} % success, ${misrouted} misrouted`,
  );
  const [, unitRate, unitPeer, unitRatio] = measured(/unique sessions at 200 clients: proxy ([\d,]+) units\/s, best peer (\S+) [\d,]+ → \*\*([\d.]+)×\*\*/);
  expect(row('200 clients, a new session')).toContain(`${unitRate} units/s, ${unitRatio}× the best peer (${unitPeer})`);
  const [, added, p99Verdict] = measured(/p99 added over the raw stdio client at 20 clients \(shared\): .* = \*\*(-?[\d.]+) ms\*\* \(goal ≤ 2 ms: (?:\*\*)?(met|not met)/);
  expect(row('20 clients')).toContain(`p99 ${added} ms above the raw stdio client`);
  expect(row('20 clients').includes('not met')).toBe(p99Verdict === 'not met');
  const [, success, rss] = measured(/1,000 concurrent clients \(shared\): success \*\*([\d.]+) %\*\*.*peak RSS of the proxy process \*\*(\d+) MB\*\*/);
  expect(row('1,000 clients')).toContain(`${success} % success; peak proxy RSS ${rss} MB`);
});
