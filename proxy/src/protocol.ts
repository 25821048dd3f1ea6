/**
 * MCP protocol versions the front speaks, and how a client's version is negotiated against the one
 * the backend agreed to with the proxy.
 *
 * Batches: JSON-RPC batches were part of MCP 2025-03-26 and removed in 2025-06-18. A session that
 * negotiated 2025-03-26 or older may POST a batch; a newer one gets 400 (-32600). Versions are ISO
 * dates, so string order is release order.
 */
export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export const LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[0];
/** The version assumed when a Streamable HTTP request carries no `MCP-Protocol-Version` header. */
export const DEFAULT_HTTP_PROTOCOL_VERSION = '2025-03-26';
const LAST_VERSION_WITH_BATCHES = '2025-03-26';

export function isSupportedVersion(version: string): boolean {
  return (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/**
 * The version answered to a client's `initialize`: the client's own when the proxy supports it and
 * the backend is not older; otherwise the newest version both the proxy and the backend speak.
 */
export function negotiateVersion(requested: unknown, backendVersion: string): string {
  const ceiling = isSupportedVersion(backendVersion) ? backendVersion : LATEST_PROTOCOL_VERSION;
  if (typeof requested === 'string' && isSupportedVersion(requested) && requested <= ceiling) return requested;
  return ceiling;
}

export function allowsBatches(version: string): boolean {
  return version <= LAST_VERSION_WITH_BATCHES;
}
