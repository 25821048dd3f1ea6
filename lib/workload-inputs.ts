/**
 * Inputs of the MCP container that reference objects living outside `dist/` (Secrets, ConfigMaps,
 * claims): `dist/` is committed to git, so secret values never pass through it.
 */
import { k8s } from 'cdk8s-plus-28';

/** An environment variable (or a whole set of them) taken from an existing Secret or ConfigMap. */
export class EnvFrom {
  /** Variable `envName` from key `key` of Secret `secretName`. */
  public static secretKey(envName: string, secretName: string, key: string): EnvFrom {
    return new EnvFrom(envName, { secretKeyRef: { name: secretName, key } }, undefined);
  }

  /** Variable `envName` from key `key` of ConfigMap `configMapName`. */
  public static configMapKey(envName: string, configMapName: string, key: string): EnvFrom {
    return new EnvFrom(envName, { configMapKeyRef: { name: configMapName, key } }, undefined);
  }

  /** Every key of Secret `secretName` as a variable. */
  public static secret(secretName: string): EnvFrom {
    return new EnvFrom(undefined, undefined, { secretRef: { name: secretName } });
  }

  /** Every key of ConfigMap `configMapName` as a variable. */
  public static configMap(configMapName: string): EnvFrom {
    return new EnvFrom(undefined, undefined, { configMapRef: { name: configMapName } });
  }

  private constructor(
    /** Name of the single variable; undefined for whole-object sources. */
    public readonly envName: string | undefined,
    /** `valueFrom` of a single variable. */
    public readonly valueFrom: k8s.EnvVarSource | undefined,
    /** An `envFrom` entry of the container. */
    public readonly source: k8s.EnvFromSource | undefined,
  ) {}
}

/** Options shared by every volume. */
export interface McpVolumeMountOptions {
  /** Volume name inside the pod (DNS-1123 label). */
  readonly name: string;
  /** Where the MCP container sees it. */
  readonly mountPath: string;
}

/** A volume mounted into the MCP container. `/tmp` is always an emptyDir and needs no entry. */
export class McpVolume {
  /** An existing ConfigMap, read-only. */
  public static configMap(options: McpVolumeMountOptions & { readonly configMapName: string }): McpVolume {
    return new McpVolume(options, { configMap: { name: options.configMapName } }, true);
  }

  /** An existing Secret, read-only, files readable by the pod's group only (mode 0440). */
  public static secret(options: McpVolumeMountOptions & { readonly secretName: string }): McpVolume {
    return new McpVolume(options, { secret: { secretName: options.secretName, defaultMode: 0o440 } }, true);
  }

  /** An existing PersistentVolumeClaim (`readOnly` defaults to false). */
  public static persistentVolumeClaim(options: McpVolumeMountOptions & { readonly claimName: string; readonly readOnly?: boolean }): McpVolume {
    const readOnly = options.readOnly ?? false;
    return new McpVolume(options, { persistentVolumeClaim: { claimName: options.claimName, readOnly } }, readOnly);
  }

  /** A scratch directory that lives as long as the pod (`sizeLimit` like "256Mi"; default "64Mi"). */
  public static emptyDir(options: McpVolumeMountOptions & { readonly sizeLimit?: string; readonly memory?: boolean }): McpVolume {
    return new McpVolume(options, {
      emptyDir: {
        sizeLimit: k8s.Quantity.fromString(options.sizeLimit ?? '64Mi'),
        medium: options.memory ? 'Memory' : undefined,
      },
    }, false);
  }

  /** The pod volume (without its name). */
  public readonly source: Omit<k8s.Volume, 'name'>;
  /** Volume name. */
  public readonly name: string;
  /** Mount path in the MCP container. */
  public readonly mountPath: string;
  /** Whether the mount is read-only. */
  public readonly readOnly: boolean;

  private constructor(options: McpVolumeMountOptions, source: Omit<k8s.Volume, 'name'>, readOnly: boolean) {
    this.name = options.name;
    this.mountPath = options.mountPath;
    this.source = source;
    this.readOnly = readOnly;
  }
}

/** CPU and memory of one container: requests are what the scheduler reserves, limits the cap. */
export interface ContainerResources {
  /** CPU request, e.g. "100m". @default - see the container */
  readonly cpuRequest?: string;
  /** CPU limit, e.g. "1". @default - see the container */
  readonly cpuLimit?: string;
  /** Memory request, e.g. "128Mi". @default - see the container */
  readonly memoryRequest?: string;
  /** Memory limit, e.g. "512Mi". @default - see the container */
  readonly memoryLimit?: string;
}

/**
 * Overrides of the hardened security defaults. Each has a safe default; loosening one that Pod
 * Security `restricted` requires (running as root) prints a warning at synth time.
 */
export interface SecurityContextOverrides {
  /** UID the containers run as. @default 65532 */
  readonly runAsUser?: number;
  /** GID the containers run as. @default 65532 */
  readonly runAsGroup?: number;
  /** Group owning mounted volumes. @default 65532 */
  readonly fsGroup?: number;
  /**
   * Run as root (UID 0, `runAsNonRoot: false`) for an image that cannot run otherwise. The pod then
   * fails Pod Security `restricted`; synth prints a warning.
   * @default false
   */
  readonly allowRunAsRoot?: boolean;
  /**
   * Keep the root filesystem read-only; writable space is `/tmp` and the volumes you mount.
   * @default true
   */
  readonly readOnlyRootFilesystem?: boolean;
}
