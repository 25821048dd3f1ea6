/**
 * The OpenTelemetry resource of everything the proxy exports (metrics and spans): who is speaking.
 *
 * `OTEL_RESOURCE_ATTRIBUTES`, the SDKs' standard variable, adds attributes from the environment. The
 * constructs fill it from the downward API with the pod's name, namespace and UID, so a collector
 * labels the proxy's telemetry with its namespace even when `k8sattributes` cannot match the sending
 * connection to a pod (SNAT, a mesh sidecar, a collector in another node's view), and can associate
 * it by `k8s.pod.uid` when it can. The configured service name and the server name always win over
 * the environment.
 */
import { detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { ResolvedProxyConfig } from '../config-validate.ts';

export function proxyResource(config: ResolvedProxyConfig): Resource {
  const fromEnvironment = detectResources({ detectors: [envDetector] });
  return fromEnvironment.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.telemetry.serviceName, 'mcp.server.name': config.server }));
}
