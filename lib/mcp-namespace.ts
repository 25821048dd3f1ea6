/** A namespace for MCP servers, with Pod Security "restricted" enforced by the API server itself. */
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { markClusterScoped, PART_OF } from './_metadata.ts';
import { checkNamespaceName } from './_validation.ts';
import { warnAbout } from './_warnings.ts';

export interface McpNamespaceProps {
  /** Namespace name (DNS-1123 label). */
  readonly name: string;
  /**
   * Pod Security level enforced by admission (`pod-security.kubernetes.io/enforce`). A server that
   * opts out of running as non-root needs "baseline" here.
   * @default "restricted"
   */
  readonly podSecurity?: 'restricted' | 'baseline' | 'privileged';
  /**
   * Extra labels (e.g. the team that owns it).
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
}

export class McpNamespace extends Construct {
  public readonly name: string;
  public readonly resource: k8s.KubeNamespace;

  constructor(scope: Construct, id: string, props: McpNamespaceProps) {
    super(scope, id);
    checkNamespaceName(props.name, 'namespace name', props.name);
    const level = props.podSecurity ?? 'restricted';
    if (level !== 'restricted') {
      warnAbout(`namespace "${props.name}"`, `podSecurity "${level}": admission enforces only Pod Security "${level}" here, so pods that fail "restricted" are admitted (with a warning); keep "restricted" unless a server needs root`);
    }
    this.name = props.name;
    this.resource = new k8s.KubeNamespace(this, 'Resource', {
      metadata: {
        name: props.name,
        labels: {
          ...props.labels,
          'app.kubernetes.io/name': props.name,
          'app.kubernetes.io/part-of': PART_OF,
          'app.kubernetes.io/managed-by': 'cdk8s',
          'pod-security.kubernetes.io/enforce': level,
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/audit': 'restricted',
        },
      },
    });
    markClusterScoped(this.resource);
  }
}
