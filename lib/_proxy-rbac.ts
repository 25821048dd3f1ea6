/**
 * The proxy's permission to attach to its MCP pod, in the shape `RbacScope` asks for. The rules are
 * the same whatever the scope: nothing beyond what the attach backend uses.
 */
import { k8s } from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { markClusterScoped } from './_metadata.ts';
import type { RbacScope } from './rbac-scope.ts';

export interface ProxyRbacInput {
  readonly baseName: string;
  /** Namespace of the proxy (and its ServiceAccount). */
  readonly namespace: string;
  /** Namespace of the MCP server's pods. */
  readonly serverNamespace: string;
  readonly serviceAccountName: string;
  /** Names of the pods the proxy may attach to. */
  readonly podNames: readonly string[];
  readonly labels: Record<string, string>;
  readonly scope: RbacScope;
}

export interface ProxyRbac {
  readonly role?: k8s.KubeRole;
  readonly clusterRole?: k8s.KubeClusterRole;
  readonly roleBindings: readonly k8s.KubeRoleBinding[];
  readonly clusterRoleBinding?: k8s.KubeClusterRoleBinding;
}

/**
 * `get`/`watch` on pods is for the proxy's own status tracking (restart detection); a watch limited
 * by `resourceNames` must send `fieldSelector=metadata.name=<pod>` or the API server answers 403.
 * A WebSocket attach is an HTTP GET: Kubernetes 1.32 authorizes it as `get` on `pods/attach`, and from
 * 1.35 also requires `create` (AuthorizePodWebsocketUpgradeCreatePermission), so both are granted.
 */
export function attachRules(podNames: readonly string[]): k8s.PolicyRule[] {
  return [
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'watch'], resourceNames: [...podNames] },
    { apiGroups: [''], resources: ['pods/attach'], verbs: ['get', 'create'], resourceNames: [...podNames] },
  ];
}

export function createProxyRbac(scope: Construct, input: ProxyRbacInput): ProxyRbac {
  const rules = attachRules(input.podNames);
  const subjects: k8s.Subject[] = [{ kind: 'ServiceAccount', name: input.serviceAccountName, namespace: input.namespace }];
  const metadata = (namespace?: string, name = input.baseName) => ({ name, namespace, labels: input.labels });
  // Cluster-scoped names are shared by every namespace, so they carry the proxy's namespace, as
  // "<namespace>:<name>" (neither part can hold a ':', so two proxies never get the same name). The
  // RoleBindings of a namespaces scope use it too: proxies of two namespaces may list the same one.
  const clusterName = `${input.namespace}:${input.baseName}`;

  switch (input.scope.kind) {
    case 'server-namespace': {
      const role = new k8s.KubeRole(scope, 'Role', { metadata: metadata(input.serverNamespace), rules });
      const binding = new k8s.KubeRoleBinding(scope, 'RoleBinding', {
        metadata: metadata(input.serverNamespace),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: input.baseName },
        subjects,
      });
      return { role, roleBindings: [binding] };
    }
    case 'namespaces': {
      const clusterRole = new k8s.KubeClusterRole(scope, 'ClusterRole', { metadata: metadata(undefined, clusterName), rules });
      markClusterScoped(clusterRole);
      const roleBindings = input.scope.namespaces.map((namespace) => new k8s.KubeRoleBinding(scope, `RoleBinding-${namespace}`, {
        metadata: metadata(namespace, clusterName),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
        subjects,
      }));
      return { clusterRole, roleBindings };
    }
    case 'cluster': {
      const clusterRole = new k8s.KubeClusterRole(scope, 'ClusterRole', { metadata: metadata(undefined, clusterName), rules });
      markClusterScoped(clusterRole);
      const clusterRoleBinding = new k8s.KubeClusterRoleBinding(scope, 'ClusterRoleBinding', {
        metadata: metadata(undefined, clusterName),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
        subjects,
      });
      markClusterScoped(clusterRoleBinding);
      return { clusterRole, clusterRoleBinding, roleBindings: [] };
    }
  }
}
