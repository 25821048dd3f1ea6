/**
 * Builds the backend a config names. Stream backends (`spawn`, `attach`) carry stdio JSON-RPC and sit
 * under the multiplexer; `http` is a reverse proxy with its own front path. The attach backend (and
 * with it `@kubernetes/client-node`) is loaded only when configured.
 */
import type { HttpBackendConfig } from '../config.ts';
import type { ResolvedBackendConfig } from '../config-validate.ts';
import { createSpawnBackend } from './spawn.ts';
import type { BackendDeps, StreamBackend } from './types.ts';

export type BuiltBackend =
  | { readonly type: 'stream'; readonly backend: StreamBackend }
  | { readonly type: 'http'; readonly config: HttpBackendConfig };

export async function createBackend(config: ResolvedBackendConfig, deps: BackendDeps): Promise<BuiltBackend> {
  switch (config.type) {
    case 'spawn':
      return { type: 'stream', backend: createSpawnBackend(config, deps) };
    case 'attach': {
      const { createAttachBackend } = await import('./attach/index.ts');
      return { type: 'stream', backend: createAttachBackend(config, deps) };
    }
    case 'http':
      return { type: 'http', config };
  }
}
