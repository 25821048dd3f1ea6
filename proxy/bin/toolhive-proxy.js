#!/usr/bin/env -S node --max-semi-space-size=16 --single-threaded-gc
// The `toolhive-proxy` bin: the compiled CLI in proxy/build (which `npm ci`, `npm run build:proxy`
// and `npm test` produce), with the Node flags of proxy/src/cli.ts's shebang (a test keeps them equal).
// It is a file of its own because npm links a bin at install time, before `prepare` builds.
try {
  await import('../build/cli.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/build/cli.js')) {
    process.stderr.write('toolhive-proxy: proxy/build is missing: run `npm run build:proxy` at the repository root\n');
    process.exit(2);
  }
  throw error;
}
