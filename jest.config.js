// Jest runs in native ESM mode (see "test" in package.json: --experimental-vm-modules), because
// several dependencies (@kubernetes/client-node 2.x, kubernetes-models 5.x, jose) ship ESM only.
// TypeScript is stripped by swc per file; type checking is `tsc` in `npm test`.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { target: 'es2023', parser: { syntax: 'typescript' }, keepClassNames: true },
      module: { type: 'es6' },
      sourceMaps: 'inline',
    }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30_000,
};
