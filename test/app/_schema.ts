/**
 * Schema checks of synthesized objects: `kubernetes-models` validates types, formats and required
 * fields, but ignores fields it does not know, so unknown fields are found separately by walking
 * each object alongside the model's TypeScript interface (the same OpenAPI schema, as types).
 */
import { join } from 'node:path';
import ts from 'typescript';

const CRD_PACKAGES: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'argoproj.io': '@kubernetes-models/argo-cd',
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
};

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: any;
}

/** Module of the model class for an apiVersion/kind, e.g. `kubernetes-models/apps/v1/StatefulSet`. */
export function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const pkg = group === '' ? 'kubernetes-models' : CRD_PACKAGES[group!] ?? 'kubernetes-models';
  return group === '' ? `${pkg}/${version}/${kind}` : `${pkg}/${group}/${version}/${kind}`;
}

/** Throws the validator's message when the object breaks its schema. */
export async function validateAgainstModel(obj: KubeObject): Promise<void> {
  const mod = await import(modelModule(obj.apiVersion, obj.kind));
  const Model = mod[obj.kind];
  if (typeof Model !== 'function') {
    throw new Error(`no model for ${obj.apiVersion} ${obj.kind}`);
  }
  new Model(obj).validate();
}

let checkerCache: { checker: ts.TypeChecker; types: Map<string, ts.Type> } | undefined;

/** One TypeScript program over the model interfaces of the given kinds (built once per test file). */
function modelTypes(objects: readonly KubeObject[]): { checker: ts.TypeChecker; types: Map<string, ts.Type> } {
  const keys = [...new Set(objects.map((o) => `${o.apiVersion}|${o.kind}`))];
  if (checkerCache && keys.every((k) => checkerCache!.types.has(k))) {
    return checkerCache;
  }
  const source = keys.map((key, i) => {
    const [apiVersion, kind] = key.split('|') as [string, string];
    return `import type { I${kind} as T${i} } from '${modelModule(apiVersion, kind)}';\nexport type A${i} = T${i};`;
  }).join('\n');
  // Placed inside the repository so module resolution finds node_modules and treats it as ESM.
  const fileName = join(process.cwd(), 'test', 'app', '__virtual_models.ts');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, allowJs: false };
  const host = ts.createCompilerHost(options);
  const baseGet = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => name === fileName ? ts.createSourceFile(name, source, lang) : baseGet(name, lang, ...rest);
  const baseExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || baseExists(name);
  const program = ts.createProgram([fileName], options, host);
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(fileName)!;
  const types = new Map<string, ts.Type>();
  let index = 0;
  sf.forEachChild((node) => {
    if (ts.isTypeAliasDeclaration(node)) {
      types.set(keys[index++]!, checker.getTypeAtLocation(node.name));
    }
  });
  checkerCache = { checker, types };
  return checkerCache;
}

/** Paths of fields the object's schema does not define (e.g. a typo that the API server would drop). */
export function unknownFields(objects: readonly KubeObject[]): string[] {
  const { checker, types } = modelTypes(objects);
  const found: string[] = [];
  for (const obj of objects) {
    const type = types.get(`${obj.apiVersion}|${obj.kind}`)!;
    walk(checker, type, obj, `${obj.kind}/${obj.metadata?.name}`, found);
  }
  return found;
}

function walk(checker: ts.TypeChecker, type: ts.Type, value: unknown, path: string, found: string[]): void {
  const t = checker.getNonNullableType(type);
  if (t.aliasSymbol?.name.endsWith('RawExtension') || t.getSymbol()?.name.endsWith('RawExtension')) {
    return; // runtime.RawExtension embeds an arbitrary object (e.g. Argo CD's helm.valuesObject)
  }
  if (Array.isArray(value)) {
    const element = arrayElement(checker, t);
    if (element) {
      value.forEach((v, i) => walk(checker, element, v, `${path}[${i}]`, found));
    }
    return;
  }
  if (value === null || typeof value !== 'object') {
    return;
  }
  const members = t.isUnion() ? t.types : [t];
  const objectMembers = members.filter((m) => (m.flags & ts.TypeFlags.Object) !== 0 && !arrayElement(checker, m));
  if (objectMembers.length === 0) {
    return; // `any`, `unknown` or a primitive-typed field holding an object: nothing to compare with
  }
  for (const [key, child] of Object.entries(value)) {
    const prop = objectMembers.map((m) => m.getProperty(key)).find(Boolean);
    if (prop) {
      walk(checker, checker.getTypeOfSymbol(prop), child, `${path}.${key}`, found);
      continue;
    }
    const indexType = objectMembers.map((m) => checker.getIndexTypeOfType(m, ts.IndexKind.String)).find(Boolean);
    if (indexType) {
      walk(checker, indexType, child, `${path}.${key}`, found);
    } else {
      found.push(`${path}.${key}`);
    }
  }
}

function arrayElement(checker: ts.TypeChecker, type: ts.Type): ts.Type | undefined {
  if (checker.isArrayType(type) || checker.isTupleType(type)) {
    return checker.getTypeArguments(type as ts.TypeReference)[0];
  }
  return undefined;
}
