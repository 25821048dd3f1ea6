/**
 * Input checks shared by the constructs. Every failure names the server, the field, the bad value
 * and the fix, because the person reading it is running `npm run synth`, not reading our code.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Longest server name: the longest derived name is `mcp-<name>-proxy-ingress` (a NetworkPolicy,
 * 18 extra characters) and Service names are DNS-1123 labels of at most 63 characters.
 */
export const MAX_SERVER_NAME_LENGTH = 45;

export class McpInputError extends Error {
  constructor(server: string, message: string) {
    super(`mcp server "${server}": ${message}`);
    this.name = 'McpInputError';
  }
}

export function checkServerName(name: string): void {
  if (!DNS_LABEL.test(name)) {
    throw new McpInputError(name, `name "${name}" is not a DNS-1123 label: use lowercase letters, digits and "-", starting and ending with a letter or digit`);
  }
  if (name.length > MAX_SERVER_NAME_LENGTH) {
    throw new McpInputError(name, `name "${name}" is ${name.length} characters long: derived names such as "mcp-${name}-proxy-ingress" must fit in 63, so use at most ${MAX_SERVER_NAME_LENGTH}`);
  }
}

export function checkNamespaceName(server: string, field: string, namespace: string): void {
  if (!isDnsLabel(namespace)) {
    throw new McpInputError(server, `${field} "${namespace}" is not a valid namespace name (a DNS-1123 label of at most 63 characters)`);
  }
}

/** A name Kubernetes wants as a DNS-1123 label (volume names, say). */
export function checkDnsLabel(server: string, field: string, value: string): void {
  if (!isDnsLabel(value)) {
    throw new McpInputError(server, `${field} "${value}" is not a DNS-1123 label: use lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters`);
  }
}

function isDnsLabel(value: string): boolean {
  return DNS_LABEL.test(value) && value.length <= 63;
}

export function checkPort(server: string, field: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new McpInputError(server, `${field} ${port} is out of range 1-65535: pick the port the server listens on`);
  }
}

/** The outcome of looking at an image reference: pinned (tag or digest), or `latest`. */
export function checkImage(server: string, field: string, image: string): { readonly isLatest: boolean } {
  if (!image || /\s/.test(image)) {
    throw new McpInputError(server, `${field} "${image}" is not an image reference`);
  }
  if (image.includes('@sha256:')) {
    return { isLatest: false };
  }
  // The tag is what follows the last ':' after the last '/', so a registry port is not a tag.
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0 || colon === lastSegment.length - 1) {
    throw new McpInputError(server, `${field} "${image}" has no tag or digest: pin it, e.g. "${image.replace(/:$/, '')}:1.2.3" or "...@sha256:<digest>"`);
  }
  return { isLatest: lastSegment.slice(colon + 1) === 'latest' };
}

/**
 * Parses an IPv4 or IPv6 CIDR in canonical form; throws with the fix when it is not one. The prefix
 * length is plain decimal ("/8", not "/08", "/ 8" or "/"), IPv4 octets have no leading zeros, IPv6
 * is written in hex groups only (no embedded dotted IPv4), and an IPv4 address is not accepted in
 * IPv6 form (`::ffff:a9fe:a9fe`), where it would slip past the checks that keep addresses such as
 * the metadata endpoint unreachable.
 */
export function checkCidr(server: string, field: string, cidr: string): void {
  const slash = cidr.indexOf('/');
  const address = slash < 0 ? '' : cidr.slice(0, slash);
  const prefix = slash < 0 ? '' : cidr.slice(slash + 1);
  const bits = /^(0|[1-9]\d{0,2})$/.test(prefix) ? Number(prefix) : NaN;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  const ok = v4
    ? v4.slice(1).every((octet) => /^(0|[1-9]\d*)$/.test(octet) && Number(octet) <= 255) && bits <= 32
    : isIpv6(address) && bits <= 128;
  if (!ok) {
    throw new McpInputError(server, `${field} "${cidr}" is not a CIDR: write an address and a prefix length, e.g. "10.0.0.0/8" or "2001:db8::/32"`);
  }
  if (!v4 && bits >= 96 && isIpv4Mapped(address)) {
    throw new McpInputError(server, `${field} "${cidr}" is an IPv4 address written as IPv6 (::ffff:0:0/96): write it as IPv4, e.g. "${mappedToIpv4(address)}/${bits - 96}"`);
  }
}

/** The eight 16-bit groups of a valid IPv6 address. */
function ipv6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const parse = (side: string) => (side === '' ? [] : side.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function isIpv4Mapped(address: string): boolean {
  const groups = ipv6Groups(address);
  return groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
}

function mappedToIpv4(address: string): string {
  const groups = ipv6Groups(address);
  return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
}

function isIpv6(address: string): boolean {
  if (!/^[0-9a-fA-F:]+$/.test(address)) {
    return false;
  }
  const halves = address.split('::');
  if (halves.length > 2) {
    return false;
  }
  // Each side of "::" (or the whole address) is groups of 1-4 hex digits joined by single colons.
  const sides = halves.map((side) => (side === '' ? [] : side.split(':')));
  if (sides.some((groups) => groups.some((g) => g.length < 1 || g.length > 4))) {
    return false;
  }
  const count = sides.reduce((n, groups) => n + groups.length, 0);
  return halves.length === 2 ? count < 8 : count === 8;
}

/**
 * A DNS name clients put in `Host` (lowercase, at most 253 characters), optionally starting with
 * the wildcard label `*.`, as Ingress and HTTPRoute accept. No scheme, port or path.
 */
export function checkHostname(server: string, field: string, host: string): void {
  const labels = host.replace(/^\*\./, '').split('.');
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) {
    throw new McpInputError(server, `${field} "${host}" is an IP address: Ingress and HTTPRoute hosts must be DNS names; give the name clients use, e.g. "mcp.example.com"`);
  }
  if (host.length > 253 || !labels.every(isDnsLabel)) {
    throw new McpInputError(server, `${field} "${host}" is not a host name: write the bare DNS name clients use, e.g. "mcp.example.com" or "*.example.com" (no scheme, port or path, lowercase)`);
  }
}

export function checkNonEmpty(server: string, field: string, values: readonly unknown[], fix: string): void {
  if (values.length === 0) {
    throw new McpInputError(server, `${field} is an empty list: ${fix}`);
  }
}

export function checkAbsolutePath(server: string, field: string, path: string): void {
  if (!path.startsWith('/')) {
    throw new McpInputError(server, `${field} "${path}" is not an absolute path: start it with "/"`);
  }
}

/**
 * A non-negative Kubernetes quantity ("250m", "64Mi", "1.5Gi", ".5Gi", "1e9"), as the API server
 * parses them; throws with the fix when it is not.
 */
export function checkQuantity(server: string, field: string, value: string, example: string): void {
  if (!/^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/.test(value)) {
    throw new McpInputError(server, `${field} "${value}" is not a Kubernetes quantity: write e.g. ${example}`);
  }
}

/** An environment variable name every supported Kubernetes version accepts (a C identifier, plus "-" and "."). */
export function checkEnvName(server: string, field: string, name: string): void {
  if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)) {
    throw new McpInputError(server, `${field} "${name}" is not an environment variable name: use letters, digits, "_", "-" and ".", not starting with a digit (no "=")`);
  }
}
