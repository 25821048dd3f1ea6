/**
 * Where the proxy's permission to attach to its MCP pod is granted. Every scope grants the same
 * rules (`get`/`watch` on `pods`, `get`/`create` on `pods/attach`, limited by `resourceNames` to
 * the server's pods); the scopes differ in which Role kind holds them and where it is bound.
 */
export class RbacScope {
  /** A Role and RoleBinding in the server's namespace: the least privilege, and the default. */
  public static serverNamespace(): RbacScope {
    return new RbacScope('server-namespace', []);
  }

  /**
   * One ClusterRole, bound by RoleBindings in the listed namespaces only: for platform teams that
   * manage one role definition for several team namespaces. The server's namespace must be listed.
   */
  public static namespace(namespaces: readonly string[]): RbacScope {
    return new RbacScope('namespaces', [...namespaces]);
  }

  /** A ClusterRole and ClusterRoleBinding: the rules hold in every namespace. */
  public static cluster(): RbacScope {
    return new RbacScope('cluster', []);
  }

  private constructor(
    /** `server-namespace`, `namespaces` or `cluster`. */
    public readonly kind: 'server-namespace' | 'namespaces' | 'cluster',
    /** The namespaces of `RbacScope.namespace`. */
    public readonly namespaces: readonly string[],
  ) {}
}
