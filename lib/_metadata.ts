/** Names, labels and namespaces every object we ship carries. */
import { Chart, JsonPatch, type ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';

export const PART_OF = 'toolhive-cdk8s';

export type Component = 'mcp-server' | 'proxy';

/** `app.kubernetes.io/name` of every MCP server pod, whichever server it runs. */
export const MCP_SERVER_APP_NAME = 'mcp-server';

/** Labels that select a component's pods: immutable once deployed (StatefulSet/Deployment selectors). */
export function selectorLabels(server: string, component: Component): Record<string, string> {
  return {
    'app.kubernetes.io/name': component === 'proxy' ? 'toolhive-proxy' : MCP_SERVER_APP_NAME,
    'app.kubernetes.io/instance': server,
  };
}

/** The recommended `app.kubernetes.io/*` labels of every object and pod template. */
export function standardLabels(server: string, component: Component): Record<string, string> {
  return {
    ...selectorLabels(server, component),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
}

/** The namespace objects under `scope` land in: the explicit one, else the chart's. */
export function namespaceOf(scope: Construct, explicit: string | undefined): string | undefined {
  return explicit ?? Chart.of(scope).namespace;
}

/**
 * cdk8s stamps the chart's namespace on every object of the chart, cluster-scoped ones included;
 * the API server rejects nothing but `kubectl apply` then warns and GitOps tools show a perpetual
 * diff, so we remove it.
 */
export function markClusterScoped(obj: ApiObject): void {
  if (Chart.of(obj).namespace !== undefined) {
    obj.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}

/** Object names taken per app and namespace, with what took them (see `claimObjectName`). */
const takenNames = new WeakMap<object, Map<string, string>>();

/**
 * Reserves `name` in `namespace` for `owner` across the whole app: an MCP server's objects carry its
 * name, its proxy's carry `mcp-<server>-proxy`, so a server named like another server's proxy
 * would share a Service, a ServiceAccount and NetworkPolicies with it, and applying would keep only
 * the last of each (the proxy could lose its policies). Returns the owner already holding the
 * name, if any.
 */
export function claimObjectName(scope: Construct, namespace: string, name: string, owner: string): string | undefined {
  const root = scope.node.root;
  const taken = takenNames.get(root) ?? new Map<string, string>();
  takenNames.set(root, taken);
  const key = `${namespace}/${name}`;
  const holder = taken.get(key);
  if (holder !== undefined) return holder;
  taken.set(key, owner);
  return undefined;
}
