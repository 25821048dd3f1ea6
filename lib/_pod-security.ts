/**
 * The one place that decides how every pod we ship is hardened (Pod Security "restricted" plus
 * explicit resources and pull policy). Each MCP and proxy pod goes through `hardenedPod`, so a
 * change here changes all of them and the whole-app tests check the result.
 */
import { k8s } from 'cdk8s-plus-28';
import { checkQuantity, McpInputError } from './_validation.ts';
import { restrictedViolations } from './_pod-security-restricted.ts';
import { warn } from './_warnings.ts';
import type { ContainerResources, SecurityContextOverrides } from './workload-inputs.ts';

/** The "nonroot" user of distroless and Chainguard images; the proxy image runs as it too. */
export const DEFAULT_UID = 65532;

export interface HardenedSecurity {
  readonly pod: k8s.PodSecurityContext;
  readonly container: k8s.SecurityContext;
}

/** Pod- and container-level security contexts from the defaults and the overrides. */
export function hardenedSecurity(server: string, overrides: SecurityContextOverrides = {}): HardenedSecurity {
  const root = overrides.allowRunAsRoot ?? false;
  if (root) {
    warn(server, 'securityContext.allowRunAsRoot is set: the MCP container runs as root (UID 0) and its pod fails Pod Security "restricted"; prefer an image that runs as a non-root user');
  }
  const readOnlyRootFilesystem = overrides.readOnlyRootFilesystem ?? true;
  if (!readOnlyRootFilesystem) {
    warn(server, 'securityContext.readOnlyRootFilesystem is false: the MCP container can modify its own image files; mount a volume where it needs to write instead');
  }
  const runAsUser = root ? 0 : overrides.runAsUser ?? DEFAULT_UID;
  const runAsGroup = root ? 0 : overrides.runAsGroup ?? DEFAULT_UID;
  const fsGroup = overrides.fsGroup ?? (root ? 0 : DEFAULT_UID);
  for (const [field, id] of [['runAsUser', runAsUser], ['runAsGroup', runAsGroup], ['fsGroup', fsGroup]] as const) {
    if (!Number.isInteger(id) || id < 0 || id > 2147483647) {
      throw new McpInputError(server, `securityContext.${field} ${id} is not a Linux ID: use a whole number from 0 to 2147483647 (0 is root's)`);
    }
  }
  if (!root && runAsUser === 0) {
    throw new McpInputError(server, `securityContext.runAsUser 0 is root: set allowRunAsRoot: true to opt out of the non-root default explicitly, or pick a non-zero UID`);
  }
  const seccompProfile = { type: 'RuntimeDefault' };
  return {
    pod: {
      runAsNonRoot: !root,
      runAsUser,
      runAsGroup,
      fsGroup,
      seccompProfile,
    },
    container: {
      runAsNonRoot: !root,
      runAsUser,
      runAsGroup,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile,
    },
  };
}

/** Explicit requests and limits; a limit below its request is a mistake caught here. */
export function resourceRequirements(server: string, field: string, given: ContainerResources | undefined, defaults: Required<ContainerResources>): k8s.ResourceRequirements {
  const r = { ...defaults, ...definedOnly(given ?? {}) };
  for (const [name, value] of Object.entries(r)) checkQuantity(server, `${field}.${name}`, value, '"250m" for CPU or "256Mi" for memory');
  return {
    requests: { cpu: k8s.Quantity.fromString(r.cpuRequest), memory: k8s.Quantity.fromString(r.memoryRequest) },
    limits: { cpu: k8s.Quantity.fromString(r.cpuLimit), memory: k8s.Quantity.fromString(r.memoryLimit) },
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `/tmp` is the one writable place a read-only root filesystem leaves; size-capped so it cannot fill the node. */
export const TMP_VOLUME: k8s.Volume = { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } };
export const TMP_MOUNT: k8s.VolumeMount = { name: 'tmp', mountPath: '/tmp' };

/** Fields every pod spec we ship carries, whatever it runs. */
export function hardenedPodSpecDefaults(security: HardenedSecurity): Pick<k8s.PodSpec, 'securityContext' | 'enableServiceLinks'> {
  return {
    securityContext: security.pod,
    // Service links inject one env var per Service of the namespace into the process: noise at
    // best, a leak of the namespace's layout to the MCP server at worst.
    enableServiceLinks: false,
  };
}

/** Pull policy: a pinned tag never changes, so pulling on every start only adds a registry dependency. */
export const IMAGE_PULL_POLICY = 'IfNotPresent';

/**
 * `podSpecOverrides` replace our fields whole, hardening included. Whatever they do, the final pod
 * template is checked against Pod Security "restricted" and every control it breaks is said at synth
 * time, so an override can never weaken a pod silently.
 */
export function warnIfNotRestricted(server: string, field: string, template: k8s.PodTemplateSpec, overrides: Partial<k8s.PodSpec> | undefined): void {
  if (overrides === undefined) return;
  for (const violation of restrictedViolations(JSON.parse(JSON.stringify(k8s.toJson_PodTemplateSpec(template))))) {
    warn(server, `${field} make the pod fail Pod Security "restricted": ${violation}`);
  }
  if (overrides.hostNetwork) {
    // NetworkPolicies select pods by their own addresses: a pod on the node's network is not one.
    warn(server, `${field} put the pod on the node's network (hostNetwork): the NetworkPolicies no longer confine it, so its egress rules are not enforced and the node's metadata endpoint is reachable`);
  }
}
