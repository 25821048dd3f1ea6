/**
 * The seam between a ToolHiveProxy and whatever observes it (the ObservabilityStack, or a user's
 * own implementation for a stack we do not synthesize). McpServer's `observability` prop takes an
 * `IProxyObservability`; each proxy calls `bindProxy` once and applies what comes back: the
 * telemetry section of its configuration and the NetworkPolicy peers that telemetry needs.
 */
import type { Construct } from 'constructs';
import type { TelemetryConfig } from '../proxy/src/config.ts';

/** Pods in a namespace (all pods when `podLabels` is absent), optionally on given TCP ports. */
export interface TelemetryPeer {
  readonly namespace: string;
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly ports?: readonly number[];
}

/** What a proxy tells its observer about itself. */
export interface ProxyObservabilityTarget {
  /** Scope in which the observer creates per-proxy objects (monitors): the ToolHiveProxy itself. */
  readonly scope: Construct;
  /** The MCP server's name (the `server` metric label). */
  readonly serverName: string;
  /** Namespace of the proxy's pods and Service (the `namespace` label of its metrics, beside `server`). */
  readonly namespace: string;
  /** Labels that select the proxy's pods; its Service carries them too. */
  readonly selectorLabels: Readonly<Record<string, string>>;
  /** Name and number of the Prometheus metrics port on the proxy's pods and Service. */
  readonly metricsPortName: string;
  readonly metricsPort: number;
}

/** What the observer asks of the proxy. */
export interface ProxyObservabilityBinding {
  /** Goes verbatim into the proxy's `ProxyConfig.telemetry`. */
  readonly telemetry: TelemetryConfig;
  /** Who may reach the proxy's metrics port (NetworkPolicy ingress on it). */
  readonly metricsScrapers: readonly TelemetryPeer[];
  /** Where the proxy sends telemetry (NetworkPolicy egress), e.g. the collector's OTLP port. */
  readonly telemetryEgress: readonly TelemetryPeer[];
}

export interface IProxyObservability {
  bindProxy(target: ProxyObservabilityTarget): ProxyObservabilityBinding;
}
