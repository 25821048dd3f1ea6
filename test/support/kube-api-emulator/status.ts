/**
 * `metav1.Status` bodies exactly as the apiserver writes them, so the proxy's error handling is
 * exercised against the real shapes (kind/apiVersion, reason, details, code).
 */
export interface KubeStatus {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Success' | 'Failure';
  readonly message?: string;
  readonly reason?: string;
  readonly details?: { readonly name?: string; readonly kind?: string };
  readonly code?: number;
}

export function successStatus(): KubeStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
}

export function failureStatus(
  code: number,
  reason: string,
  message: string,
  details?: { name?: string; kind?: string },
): KubeStatus {
  return {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason,
    ...(details ? { details } : {}), code,
  };
}

/** What RBAC denies, worded like the apiserver's authorizer (`cannot get resource "pods/attach"`). */
export interface DeniedAccess {
  readonly verb: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace: string;
  readonly name?: string;
  readonly user: string;
}

export function forbiddenStatus(denied: DeniedAccess): KubeStatus {
  const resource = denied.subresource ? `${denied.resource}/${denied.subresource}` : denied.resource;
  const subject = denied.name ? `${denied.resource} "${denied.name}"` : denied.resource;
  const message =
    `${subject} is forbidden: User "${denied.user}" cannot ${denied.verb} resource "${resource}" ` +
    `in API group "" in the namespace "${denied.namespace}"`;
  return failureStatus(403, 'Forbidden', message, { ...(denied.name ? { name: denied.name } : {}), kind: denied.resource });
}

export function unauthorizedStatus(): KubeStatus {
  return failureStatus(401, 'Unauthorized', 'Unauthorized');
}

export function notFoundStatus(resource: string, name: string): KubeStatus {
  return failureStatus(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
}
