/** Where the real MCP server used by the tests lives. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** `node EVERYTHING_SERVER stdio|sse|streamableHttp` runs `@modelcontextprotocol/server-everything`. */
export const EVERYTHING_SERVER = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
