export * from './mcp-server.ts';
export * from './toolhive-proxy.ts';
export * from './mcp-transport.ts';
export * from './permission-profile.ts';
export * from './rbac-scope.ts';
export * from './exposure.ts';
export * from './workload-inputs.ts';
export * from './mcp-namespace.ts';
export * from './argocd-application.ts';
export * from './observability-binding.ts';
// The ObservabilityStack imports `yaml`, a devDependency: export it here once `yaml` moves to
// `dependencies`, or installs from git break at import time. Until then import it by path.
// export * from './observability-stack.ts';
