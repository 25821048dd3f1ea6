import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { collectInterfaces, END, renderReference, START } from './_prop-reference.ts';

const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');

describe('README prop reference', () => {
  const docs = collectInterfaces();

  test('covers the construct props', () => {
    expect(docs.map((d) => d.name)).toEqual(expect.arrayContaining(['McpServerProps', 'ToolHiveProxyProps', 'ToolHiveProxyOptions', 'McpServerProxyOptions', 'McpArgoCdApplicationProps', 'McpNamespaceProps']));
  });

  test('every optional prop documents its default and every prop has a summary', () => {
    const missing = docs.flatMap((d) => d.props
      .filter((p) => !p.summary || (!p.required && p.defaultValue === undefined))
      .map((p) => `${d.name}.${p.name}`));
    expect(missing).toEqual([]);
  });

  test('is current (run `npx tsx test/constructs/_prop-reference.ts --write` when this fails)', () => {
    const section = readme.slice(readme.indexOf(START), readme.indexOf(END) + END.length);
    expect(section).toBe(renderReference(docs));
  });

  test('names every prop of every interface', () => {
    for (const doc of docs) {
      for (const prop of doc.props) {
        expect([doc.name, readme.includes(`| \`${prop.name}\` |`)]).toEqual([doc.name, true]);
      }
    }
  });
});
