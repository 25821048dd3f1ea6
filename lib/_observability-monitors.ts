/**
 * The per-proxy monitor of the direct-scrape architectures: a ServiceMonitor or PodMonitor in the
 * proxy's namespace selecting exactly that proxy's pods or Service, on its named metrics port.
 *
 * The Prometheus Operator labels every target of a monitor with `namespace` (and `pod`, `container`,
 * `service`) from service discovery: that is the `namespace` the queries group by, the one the
 * collector gives pushed metrics too. So the endpoints set no relabelings and keep honorLabels off.
 */
import type { ApiObject } from 'cdk8s';
import { PodMonitor } from '../imports/podmonitor-monitoring.coreos.com.ts';
import { ServiceMonitor } from '../imports/servicemonitor-monitoring.coreos.com.ts';
import type { ProxyObservabilityTarget } from './observability-binding.ts';

/** The construct id of the monitor under the proxy's scope (stable: main.ts routes CRD objects by it). */
export const MONITOR_ID = 'ObservabilityMonitor';

export function proxyMonitor(target: ProxyObservabilityTarget, kind: 'ServiceMonitor' | 'PodMonitor', interval: string): ApiObject {
  const metadata = {
    name: `mcp-${target.serverName}-proxy`,
    namespace: target.namespace,
    labels: {
      'app.kubernetes.io/name': 'toolhive-proxy',
      'app.kubernetes.io/instance': target.serverName,
      'app.kubernetes.io/component': 'metrics',
      'app.kubernetes.io/part-of': 'toolhive-cdk8s',
      'app.kubernetes.io/managed-by': 'cdk8s',
    },
  };
  const selector = { matchLabels: { ...target.selectorLabels } };
  // Only the proxy's own namespace: the same labels may exist on another team's proxy elsewhere.
  const namespaceSelector = { matchNames: [target.namespace] };
  if (kind === 'PodMonitor') {
    return new PodMonitor(target.scope, MONITOR_ID, {
      metadata,
      spec: { selector, namespaceSelector, podMetricsEndpoints: [{ port: target.metricsPortName, path: '/metrics', interval }] },
    });
  }
  return new ServiceMonitor(target.scope, MONITOR_ID, {
    metadata,
    spec: { selector, namespaceSelector, endpoints: [{ port: target.metricsPortName, path: '/metrics', interval }] },
  });
}
