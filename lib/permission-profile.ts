/** Options of an egress allow list. */
export interface AllowListOptions {
  /** Destinations the server may reach, as CIDRs (IPv4 or IPv6). */
  readonly cidrs: readonly string[];
  /**
   * TCP ports allowed to those destinations.
   * @default [443]
   */
  readonly ports?: readonly number[];
}

/** Options of `PermissionProfile.internet()`. */
export interface InternetOptions {
  /**
   * More destinations to keep out of reach, as CIDRs (IPv4 or IPv6): a cluster whose pod, Service
   * or node addresses are public (outside `PRIVATE_CIDRS`) lists them here.
   * @default []
   */
  readonly exceptCidrs?: readonly string[];
}

/**
 * Address space that is not the public internet and where clusters put their pods, Services, nodes
 * and API servers: RFC 1918; the RFC 6598 shared space 100.64.0.0/10 (carrier-grade NAT, and pod
 * ranges of some clusters); the special-use ranges GKE lets clusters use for pods and Services
 * (192.0.0.0/24, the documentation ranges 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24,
 * 198.18.0.0/15 and the reserved 240.0.0.0/4); 34.118.224.0/20, from which GKE gives Services
 * their addresses by default; and IPv6 unique local addresses fc00::/7.
 */
export const PRIVATE_CIDRS: readonly string[] = [
  '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10',
  '192.0.0.0/24', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '198.18.0.0/15', '240.0.0.0/4',
  '34.118.224.0/20', 'fc00::/7',
];

/** The IPv4 cloud metadata endpoint: credentials of the node live there, never reachable. */
export const CLOUD_METADATA_CIDR = '169.254.169.254/32';

/** The same endpoint's IPv6 address on AWS (IMDS on dual-stack and IPv6 clusters), never reachable. */
export const CLOUD_METADATA_CIDR_V6 = 'fd00:ec2::254/128';

/**
 * What no MCP server may reach, whatever its profile: the link-local ranges, where the cloud
 * metadata and credential endpoints live (169.254.169.254 on every major cloud, ECS and EKS Pod
 * Identity credentials at 169.254.170.2 and 169.254.170.23), and the metadata and host-agent
 * addresses outside them (Alibaba Cloud 100.100.100.200; Azure's WireServer 168.63.129.16, which
 * serves the node's provisioning data; AWS fd00:ec2::254 and fd00:ec2::23, GCP fd20:ce::254).
 */
export const NEVER_REACHABLE_CIDRS: readonly string[] = [
  '169.254.0.0/16', '100.100.100.200/32', '168.63.129.16/32', 'fe80::/10', CLOUD_METADATA_CIDR_V6, 'fd00:ec2::23/128', 'fd20:ce::254/128',
];

/**
 * What the MCP server may reach on the network, enforced by a NetworkPolicy on its pods
 * (ToolHive's permission profiles create none on Kubernetes; ours do).
 */
export class PermissionProfile {
  /** No egress at all: the server computes on what it is sent. */
  public static none(): PermissionProfile {
    return new PermissionProfile('none', [], [], []);
  }

  /**
   * Public destinations only, plus DNS: any address except `PRIVATE_CIDRS` (where the cluster's
   * pods, Services, nodes and API server live), `NEVER_REACHABLE_CIDRS` and `exceptCidrs`. For a
   * server that fetches URLs for a model: the internet, but nothing inside the cluster.
   */
  public static internet(options: InternetOptions = {}): PermissionProfile {
    return new PermissionProfile('internet', [], [], options.exceptCidrs ?? []);
  }

  /**
   * Any destination, except `NEVER_REACHABLE_CIDRS` (link-local 169.254.0.0/16 and fe80::/10, and
   * the cloud metadata addresses outside them): a server that fetches URLs for a model must not be
   * able to fetch the node's cloud credentials. Addresses inside the cluster (other pods, Services,
   * nodes, the API server) stay reachable, and synth warns; `internet()` keeps them out.
   */
  public static network(): PermissionProfile {
    return new PermissionProfile('network', [], [], []);
  }

  /** Only the listed CIDRs on the listed TCP ports, plus DNS; `NEVER_REACHABLE_CIDRS` always excluded. */
  public static allowList(options: AllowListOptions): PermissionProfile {
    return new PermissionProfile('allow-list', options.cidrs, options.ports ?? [443], []);
  }

  private constructor(
    /** `none`, `internet`, `network` or `allow-list`. */
    public readonly kind: 'none' | 'internet' | 'network' | 'allow-list',
    /** Allowed destination CIDRs (allow list only). */
    public readonly cidrs: readonly string[],
    /** Allowed TCP ports (allow list only). */
    public readonly ports: readonly number[],
    /** Destinations kept out of reach besides the private and never-reachable ranges (internet only). */
    public readonly exceptCidrs: readonly string[],
  ) {}
}
