// Jest transformer: strips TypeScript with esbuild, keeping ES modules (jest runs in native ESM
// mode). A dozen lines instead of @swc/jest or ts-jest: @swc/core's per-platform binaries are not
// all on the package registry this project installs from (so `npm ci` rejects the lockfile), and
// esbuild is already here for tsx. Type checking is `tsc` in `npm test`, not this.
const { transformSync } = require('esbuild');
const { createHash } = require('node:crypto');

module.exports = {
  process(source, filename) {
    const result = transformSync(source, {
      loader: 'ts',
      format: 'esm',
      target: 'es2023',
      sourcemap: 'inline',
      sourcefile: filename,
      keepNames: true,
    });
    return { code: result.code };
  },
  getCacheKey(source, filename, options) {
    return createHash('sha1').update(source).update(filename).update(options.configString).update('esbuild-1').digest('hex');
  },
};
