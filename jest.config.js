// Jest runs in native ESM mode (see "jest" in package.json: --experimental-vm-modules), because
// several dependencies (@kubernetes/client-node 2.x, kubernetes-models 5.x) ship ESM only.
// TypeScript is stripped per file by test/support/esbuild-transform.cjs; type checking is `tsc`.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': '<rootDir>/test/support/esbuild-transform.cjs' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30_000,
};
