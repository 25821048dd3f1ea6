/** Every invalid prop fails at synth time, naming the server, the field, the bad value and the fix. */
import { describe, expect, test } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { Exposure, McpArgoCdApplication, McpServer, McpTransport, McpVolume, PermissionProfile, RbacScope, ToolHiveProxy } from '../../lib/index.ts';
import { newChart } from './_util.ts';

const IMAGE = 'docker.io/mcp/fetch:2025.4.7';
const server = (props: Partial<ConstructorParameters<typeof McpServer>[2]>, id = 'fetch') =>
  () => new McpServer(newChart(), id, { image: IMAGE, ...props });

describe('McpServer fails', () => {
  test('fails on a name that is not a DNS-1123 label', () => {
    expect(server({}, 'Fetch_Server')).toThrow(/mcp server "Fetch_Server": name "Fetch_Server" is not a DNS-1123 label: use lowercase/);
  });

  test('fails on a name too long for the derived names', () => {
    const long = 'a'.repeat(46);
    expect(server({}, long)).toThrow(new RegExp(`name "${long}" is 46 characters long: .*use at most 45`));
  });

  test('fails on a port out of range', () => {
    expect(server({ transport: McpTransport.streamableHttp({ port: 70000 }) })).toThrow(/mcp server "fetch": transport port 70000 is out of range 1-65535/);
    expect(server({ transport: McpTransport.sse({ port: 0 }) })).toThrow(/transport port 0 is out of range/);
  });

  // A port on stdio cannot be written: McpTransport.stdio() takes no options.
  test('fails on more than one proxy replica for a stdio server', () => {
    expect(() => new ToolHiveProxy(newChart(), 'p', { serverName: 'fetch', replicas: 2 })).toThrow(/mcp server "fetch": proxy.replicas 2 on a stdio server/);
  });

  test('fails on more than one server or proxy replica for an SSE server (its sessions live on one pod)', () => {
    const sse = McpTransport.sse({ port: 8080 });
    expect(server({ transport: sse, replicas: 2 })).toThrow(/mcp server "fetch": replicas 2 on an SSE server: .*use 1, or Streamable HTTP/);
    expect(server({ transport: sse, proxy: { replicas: 2 } })).toThrow(/mcp server "fetch": proxy.replicas 2 on an SSE server: a proxy pod keeps the SSE sessions/);
  });

  test('fails on replicas > 1 for stdio', () => {
    expect(server({ replicas: 2 })).toThrow(/mcp server "fetch": replicas 2 on a stdio server: .*use 1, or an HTTP transport/);
  });

  test('fails on replicas that are not positive integers', () => {
    expect(server({ replicas: 0 })).toThrow(/replicas 0 is not a positive integer/);
  });

  test('fails on an image without tag or digest', () => {
    expect(server({ image: 'docker.io/mcp/fetch' })).toThrow(/mcp server "fetch": image "docker.io\/mcp\/fetch" has no tag or digest: pin it/);
    expect(server({ image: 'registry:5000/mcp/fetch' })).toThrow(/has no tag or digest/);
    expect(server({ image: 'registry:5000/mcp/fetch@sha256:abc' })).not.toThrow();
  });

  test('fails on duplicate server names in a namespace, across charts', () => {
    const app = new App();
    new McpServer(new Chart(app, 'a', { namespace: 'mcp' }), 'fetch', { image: IMAGE });
    expect(() => new McpServer(new Chart(app, 'b', { namespace: 'mcp' }), 'fetch', { image: IMAGE }))
      .toThrow(/mcp server "fetch": a server named "fetch" already exists in namespace "mcp"/);
    expect(() => new McpServer(new Chart(app, 'c', { namespace: 'other' }), 'fetch', { image: IMAGE })).not.toThrow();
  });

  test("fails on a server named like another server's proxy, in either order", () => {
    // Both would own a Service, a ServiceAccount and NetworkPolicies named mcp-x-proxy.
    const first = new App();
    new McpServer(new Chart(first, 'a', { namespace: 'mcp' }), 'x', { image: IMAGE });
    expect(() => new McpServer(new Chart(first, 'b', { namespace: 'mcp' }), 'mcp-x-proxy', { image: IMAGE }))
      .toThrow(/mcp server "mcp-x-proxy": the name "mcp-x-proxy" is already used in namespace "mcp" by the proxy of server "x"/);
    const second = new App();
    new McpServer(new Chart(second, 'a', { namespace: 'mcp' }), 'mcp-x-proxy', { image: IMAGE });
    expect(() => new McpServer(new Chart(second, 'b', { namespace: 'mcp' }), 'x', { image: IMAGE }))
      .toThrow(/mcp server "x": the proxy's name "mcp-x-proxy" is already used in namespace "mcp" by the server "mcp-x-proxy": rename that server/);
    const standalone = new App();
    new McpServer(new Chart(standalone, 'a', { namespace: 'mcp' }), 'x', { image: IMAGE });
    expect(() => new ToolHiveProxy(new Chart(standalone, 'b', { namespace: 'mcp' }), 'again', { serverName: 'x' }))
      .toThrow(/already used in namespace "mcp" by the proxy of server "x": one server has one proxy/);
    expect(() => new McpServer(new Chart(standalone, 'c', { namespace: 'other' }), 'mcp-x-proxy', { image: IMAGE })).not.toThrow();
    // A second proxy for the same stdio server from another namespace: its attach Role would
    // replace the first one's, and two attachers would interleave writes into stdin.
    expect(() => new ToolHiveProxy(new Chart(standalone, 'd', { namespace: 'agents' }), 'again', { serverName: 'x', serverNamespace: 'mcp' }))
      .toThrow(/pod "x-0" in namespace "mcp" already has a proxy attached \(the proxy of server "x" in namespace "mcp"\): a stdio server takes exactly one/);
    expect(() => new ToolHiveProxy(new Chart(standalone, 'e', { namespace: 'tools' }), 'cluster', { serverName: 'x', serverNamespace: 'mcp', rbacScope: RbacScope.cluster() }))
      .toThrow(/already has a proxy attached/);
    // Two proxies of differently named servers pointed at one pod are two attachers too
    new ToolHiveProxy(new Chart(standalone, 'f', { namespace: 'mcp' }), 'alpha', { serverName: 'alpha', serverPodName: 'shared-0' });
    expect(() => new ToolHiveProxy(new Chart(standalone, 'g', { namespace: 'mcp' }), 'beta', { serverName: 'beta', serverPodName: 'shared-0' }))
      .toThrow(/pod "shared-0" in namespace "mcp" already has a proxy attached \(the proxy of server "alpha" in namespace "mcp"\)/);
    // Names alone do not make a second attacher: x's proxy elsewhere, beside a server named like it
    const apart = new App();
    new McpServer(new Chart(apart, 'a', { namespace: 'mcp' }), 'x', { image: IMAGE, proxy: { enabled: false } });
    new McpServer(new Chart(apart, 'b', { namespace: 'mcp' }), 'mcp-x-proxy', { image: IMAGE });
    expect(() => new ToolHiveProxy(new Chart(apart, 'c', { namespace: 'agents' }), 'proxy', { serverName: 'x', serverNamespace: 'mcp' })).not.toThrow();
  });

  test('fails on an allow-list CIDR that does not parse', () => {
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['10.0.0.0/33'] }) }))
      .toThrow(/mcp server "fetch": permissionProfile allowList cidr "10.0.0.0\/33" is not a CIDR: write an address and a prefix length/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['example.com'] }) })).toThrow(/"example.com" is not a CIDR/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['2001:db8::/32'] }) })).not.toThrow();
  });

  test('fails on CIDRs not in canonical form: a prefix that is not plain decimal, octets with leading zeros', () => {
    // "/" alone must not count as /0: as an internet() except, 0.0.0.0/0 would swallow every exclusion.
    for (const cidr of ['10.0.0.0/', '10.0.0.0/ 8', '10.0.0.0/08', '10.0.0.0/0x8', '10.0.0.0/1e1', '010.0.0.0/8', '0.0.0.0/00']) {
      expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: [cidr] }) })).toThrow(`"${cidr}" is not a CIDR`);
      expect(server({ permissionProfile: PermissionProfile.internet({ exceptCidrs: [cidr] }) })).toThrow(`"${cidr}" is not a CIDR`);
    }
    expect(server({ proxy: { apiServerCidrs: ['10.0.0.1/'] } })).toThrow('proxy.apiServerCidrs "10.0.0.1/" is not a CIDR');
  });

  test('fails on an IPv4 address written in IPv6 form, which would get past the never-reachable check', () => {
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['::ffff:a9fe:a9fe/128'] }) }))
      .toThrow(/"::ffff:a9fe:a9fe\/128" is an IPv4 address written as IPv6 \(::ffff:0:0\/96\): write it as IPv4, e.g. "169.254.169.254\/32"/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['::ffff:0:0/96'] }) })).toThrow(/written as IPv6/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['64:ff9b::/96'] }) })).not.toThrow();
  });

  test('fails on an allow list naming an address that is never reachable, or empty', () => {
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['169.254.169.254/32'] }) }))
      .toThrow(/allowList cidr "169.254.169.254\/32" lies in 169.254.0.0\/16 \(link-local or cloud metadata addresses, where node credentials live\), which is never reachable/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['169.254.170.0/24'] }) })).toThrow(/"169.254.170.0\/24" lies in 169.254.0.0\/16/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['169.254.0.0/16'] }) })).toThrow(/"169.254.0.0\/16" lies in 169.254.0.0\/16/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['100.100.100.200/32'] }) })).toThrow(/lies in 100.100.100.200\/32/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['fd00:ec2:0:0::254/128'] }) })).toThrow(/"fd00:ec2:0:0::254\/128" lies in fd00:ec2::254\/128/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['fe80::1/128'] }) })).toThrow(/lies in fe80::\/10/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: [] }) })).toThrow(/permissionProfile allowList cidrs is an empty list/);
    expect(server({ permissionProfile: PermissionProfile.allowList({ cidrs: ['10.0.0.0/8'], ports: [0] }) })).toThrow(/allowList port 0 is out of range/);
  });

  test('fails on an empty namespace list, or one without the server namespace', () => {
    expect(server({ proxy: { rbacScope: RbacScope.namespace([]) } })).toThrow(/mcp server "fetch": rbacScope namespaces is an empty list: list at least the server's namespace/);
    expect(server({ proxy: { rbacScope: RbacScope.namespace(['team-b']) } })).toThrow(/rbacScope namespaces \[team-b\] do not include the server's namespace "mcp"/);
  });

  test('fails without a namespace', () => {
    expect(() => new McpServer(new Chart(new App(), 'x'), 'fetch', { image: IMAGE })).toThrow(/the server has no namespace: give the chart a namespace/);
  });

  test('fails on bad resources, volumes and security overrides', () => {
    expect(server({ resources: { cpuLimit: 'lots' } })).toThrow(/resources.cpuLimit "lots" is not a Kubernetes quantity/);
    expect(server({ volumes: [McpVolume.emptyDir({ name: 'tmp', mountPath: '/scratch' })] })).toThrow(/repeats a volume name or mount path/);
    expect(server({ volumes: [McpVolume.emptyDir({ name: 'x', mountPath: 'relative' })] })).toThrow(/mountPath "relative" is not an absolute path/);
    expect(server({ securityContext: { runAsUser: 0 } })).toThrow(/runAsUser 0 is root: set allowRunAsRoot: true/);
    expect(server({ volumes: [McpVolume.emptyDir({ name: 'My_Vol', mountPath: '/data' })] })).toThrow(/mcp server "fetch": volume name "My_Vol" is not a DNS-1123 label/);
    expect(server({ securityContext: { runAsUser: -1 } })).toThrow(/securityContext.runAsUser -1 is not a Linux ID: use a whole number from 0 to 2147483647/);
    expect(server({ securityContext: { runAsGroup: 1.5 } })).toThrow(/securityContext.runAsGroup 1.5 is not a Linux ID/);
  });

  test('fails on an exposure whose hosts the proxy could not allow', () => {
    expect(server({ exposure: Exposure.httpRoute({ gatewayName: 'gw' }) }))
      .toThrow(/mcp server "fetch": exposure HTTPRoute has no hostnames: the proxy accepts only the Host names it is told .* would answer 403 to every request through the Gateway; set hostnames, or list the listener's host names in proxy.extraAllowedHosts/);
    expect(server({ exposure: Exposure.httpRoute({ gatewayName: 'gw', controllerNamespace: 'gw' }), proxy: { extraAllowedHosts: ['mcp.example.com'] } })).not.toThrow();
    expect(server({ exposure: Exposure.httpRoute({ gatewayName: 'gw', hostnames: [] }) })).toThrow(/exposure hostnames is an empty list/);
    expect(server({ exposure: Exposure.httpRoute({ gatewayName: 'gw', hostnames: ['MCP.example.com'] }) })).toThrow(/exposure hostname "MCP.example.com" is not a host name/);
    expect(server({ exposure: Exposure.ingress({ host: 'https://x.example.com/' }) })).toThrow(/exposure host "https:\/\/x.example.com\/" is not a host name: write the bare DNS name/);
    expect(server({ exposure: Exposure.ingress({ host: '*.example.com', controllerNamespace: 'ingress-nginx' }) })).not.toThrow();
  });

  test('fails on input the API server would reject: an IP as host, a bad quantity, an env name with "=", a negative fsGroup, a bad telemetry peer', () => {
    expect(server({ volumes: [McpVolume.emptyDir({ name: 'cache', mountPath: '/cache', sizeLimit: '.5Gi' })] })).not.toThrow();
    expect(server({ volumes: [McpVolume.emptyDir({ name: 'cache', mountPath: '/cache', sizeLimit: '1e9' })] })).not.toThrow();
    expect(server({ exposure: Exposure.ingress({ host: '10.0.0.1', controllerNamespace: 'ingress-nginx' }) }))
      .toThrow(/exposure host "10.0.0.1" is an IP address: Ingress and HTTPRoute hosts must be DNS names/);
    expect(server({ exposure: Exposure.httpRoute({ gatewayName: 'gw', hostnames: ['192.0.2.7'], controllerNamespace: 'gw' }) })).toThrow(/"192.0.2.7" is an IP address/);
    expect(server({ volumes: [McpVolume.emptyDir({ name: 'cache', mountPath: '/cache', sizeLimit: 'lots' })] }))
      .toThrow(/volume "cache" sizeLimit "lots" is not a Kubernetes quantity: write e.g. "256Mi" or "1Gi"/);
    expect(server({ volumes: [McpVolume.emptyDir({ name: 'cache', mountPath: '/cache', sizeLimit: '1Gi' })] })).not.toThrow();
    expect(server({ env: { 'A=B': '1' } })).toThrow(/env "A=B" is not an environment variable name/);
    expect(server({ env: { '9LIVES': '1' } })).toThrow(/env "9LIVES" is not an environment variable name/);
    expect(server({ env: { 'my.setting-x': '1', _X: '2' } })).not.toThrow();
    expect(server({ securityContext: { fsGroup: -1 } })).toThrow(/securityContext.fsGroup -1 is not a Linux ID/);
    const peer = (namespace: string, ports?: number[]) => ({ telemetry: { config: {}, egress: [{ namespace, ...(ports ? { ports } : {}) }] } });
    expect(server(peer('Not_A_NS'))).toThrow(/telemetry.egress namespace "Not_A_NS"/);
    expect(server(peer('monitoring', [0]))).toThrow(/telemetry.egress port 0 is out of range/);
    expect(server(peer('monitoring', [4318]))).not.toThrow();
  });

  test('fails on client namespaces that would open the proxy wider than asked, or to no one', () => {
    expect(server({ exposure: Exposure.ingress({ host: 'fetch.example.com' }) }))
      .toThrow(/mcp server "fetch": exposure has no controllerNamespace: name the namespace of the ingress controller or gateway pods.*or set proxy.clientNamespaces \["\*"\]/);
    expect(server({ proxy: { clientNamespaces: [] } })).toThrow(/proxy.clientNamespaces is an empty list: no pod could reach the proxy/);
    expect(server({ proxy: { clientNamespaces: ['*', 'agents'] } })).toThrow(/proxy.clientNamespaces \[\*, agents\]: "\*" \(every namespace\) stands alone/);
    expect(server({ proxy: { clientNamespaces: ['Agents'] } })).toThrow(/proxy.clientNamespaces "Agents" is not a valid namespace name/);
  });

  test('fails on API server CIDRs that are empty or do not parse', () => {
    expect(server({ proxy: { apiServerCidrs: [] } })).toThrow(/proxy.apiServerCidrs is an empty list: list the API server's addresses/);
    expect(server({ proxy: { apiServerCidrs: ['10.0.0.1'] } })).toThrow(/proxy.apiServerCidrs "10.0.0.1" is not a CIDR/);
    expect(server({ proxy: { apiServerCidrs: [':::/0'] } })).toThrow(/proxy.apiServerCidrs ":::\/0" is not a CIDR/);
    expect(server({ proxy: { apiServerCidrs: ['10.0.0.1/32', '::/0'] } })).not.toThrow();
  });

  test('fails when proxy settings are given with the proxy turned off', () => {
    expect(server({ proxy: { enabled: false }, telemetry: { config: {} } })).toThrow(/`proxy.enabled` is false/);
  });

  test('fails when the validator of the proxy refuses the configuration', () => {
    expect(server({ proxy: { limits: { maxBodyBytes: -1 } } })).toThrow(/mcp server "fetch": the proxy configuration is invalid: .*limits.maxBodyBytes: -1/s);
  });

  test('fails when both observability and telemetry are given', () => {
    expect(server({ telemetry: { config: {} }, observability: { bindProxy: () => ({ telemetry: {}, metricsScrapers: [], telemetryEgress: [] }) } }))
      .toThrow(/both `observability` and `telemetry` are set/);
  });
});

describe('McpArgoCdApplication fails', () => {
  test('fails on a repo URL that is not a git URL', () => {
    expect(() => new McpArgoCdApplication(newChart(), 'app', { repoUrl: 'not a url' })).toThrow(/repoUrl "not a url" is not a git URL/);
  });
});
