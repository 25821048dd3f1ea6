/**
 * The README's prop reference, generated from the TSDoc of the public interfaces, so the reference
 * says what the code says. `npx tsx test/constructs/_prop-reference.ts --write` refreshes README.md;
 * readme-reference.test.ts fails when the README is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

export const REFERENCE_FILES = [
  'mcp-server.ts', 'toolhive-proxy.ts', 'mcp-transport.ts', 'permission-profile.ts', 'exposure.ts',
  'workload-inputs.ts', 'mcp-namespace.ts', 'argocd-application.ts',
];
export const START = '<!-- props:start -->';
export const END = '<!-- props:end -->';

export interface PropDoc {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly summary: string;
  readonly defaultValue: string | undefined;
}

export interface InterfaceDoc {
  readonly name: string;
  readonly extends: string[];
  readonly props: PropDoc[];
}

export function collectInterfaces(root = process.cwd()): InterfaceDoc[] {
  const docs: InterfaceDoc[] = [];
  for (const file of REFERENCE_FILES) {
    const text = readFileSync(join(root, 'lib', file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    source.forEachChild((node) => {
      if (!ts.isInterfaceDeclaration(node) || !node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) {
        return;
      }
      const props = node.members.filter(ts.isPropertySignature).map((member) => {
        const jsDoc = ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc)[0];
        const comment = ts.getTextOfJSDocComment(jsDoc?.comment) ?? '';
        const defaultTag = jsDoc?.tags?.find((t) => t.tagName.text === 'default');
        return {
          name: member.name.getText(source),
          type: member.type ? member.type.getText(source).replace(/\s+/g, ' ') : 'unknown',
          required: !member.questionToken,
          summary: comment.split(/\n\s*\n/)[0]!.replace(/\s+/g, ' ').trim(),
          defaultValue: defaultTag ? (ts.getTextOfJSDocComment(defaultTag.comment) ?? '').replace(/\s+/g, ' ').trim() : undefined,
        };
      });
      const heritage = node.heritageClauses?.flatMap((h) => h.types.map((t) => t.getText(source))) ?? [];
      docs.push({ name: node.name.text, extends: heritage, props });
    });
  }
  return docs;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function renderReference(docs: readonly InterfaceDoc[]): string {
  const sections = docs.map((doc) => {
    const lines = [`#### \`${doc.name}\``, ''];
    if (doc.extends.length > 0) {
      lines.push(`Also every prop of ${doc.extends.map((e) => `\`${e}\``).join(', ')}.`, '');
    }
    lines.push('| prop | type | default | what it does |', '|---|---|---|---|');
    for (const p of doc.props) {
      const def = p.required ? '**required**' : cell(p.defaultValue ?? '');
      lines.push(`| \`${p.name}\` | \`${cell(p.type)}\` | ${def} | ${cell(p.summary)} |`);
    }
    return lines.join('\n');
  });
  return `${START}\n<!-- generated from the TSDoc in lib/ by test/constructs/_prop-reference.ts: do not edit by hand -->\n\n${sections.join('\n\n')}\n\n${END}`;
}

export function replaceSection(readme: string, section: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) {
    throw new Error(`README.md has no ${START} ... ${END} section`);
  }
  return readme.slice(0, start) + section + readme.slice(end + END.length);
}

if (process.argv.includes('--write')) {
  const path = join(process.cwd(), 'README.md');
  writeFileSync(path, replaceSection(readFileSync(path, 'utf8'), renderReference(collectInterfaces())));
}
