import { describe, expect, test } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { CLOUD_METADATA_CIDR_V6, DNS_SERVICE_IPS_CONTEXT, EnvFrom, McpServer, McpTransport, McpVolume, NEVER_REACHABLE_CIDRS, PermissionProfile, PRIVATE_CIDRS, useClusterDnsServiceIPs } from '../../lib/index.ts';
import { WARNING_PREFIX } from '../../lib/_warnings.ts';
import { find, newChart, objectsOf, withConsoleWarnings } from './_util.ts';

const IMAGE = 'docker.io/mcp/fetch:2025.4.7';

describe('McpServer', () => {
  test('defaults (snapshot)', () => {
    // GIVEN
    const chart = newChart();
    // WHEN
    new McpServer(chart, 'fetch', { image: IMAGE });
    // THEN
    expect(objectsOf(chart)).toMatchSnapshot();
  });

  test('stdio servers keep stdin open, have no tty and expose no port', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', { image: IMAGE });
    const pod = find(chart, 'StatefulSet', 'fetch').spec.template.spec;
    const mcp = pod.containers[0];
    expect(mcp).toMatchObject({ name: 'mcp', stdin: true, stdinOnce: false, tty: false });
    expect(mcp.ports).toBeUndefined();
    expect(find(chart, 'Service', 'fetch').spec).toEqual({ clusterIP: 'None', selector: expect.any(Object) });
    expect(pod.shareProcessNamespace).toBe(true);
    expect(find(chart, 'StatefulSet', 'fetch').spec.replicas).toBe(1);
  });

  test('always mounts an emptyDir at /tmp and sets HOME there', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', { image: IMAGE });
    const pod = find(chart, 'StatefulSet', 'fetch').spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(pod.containers[0].env).toContainEqual({ name: 'HOME', value: '/tmp' });
  });

  test('gets a ServiceAccount without token and without any binding', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', { image: IMAGE, serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/x' } });
    const sa = find(chart, 'ServiceAccount', 'fetch');
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(sa.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/x' });
    const subjects = objectsOf(chart).filter((o) => o.kind.endsWith('Binding')).flatMap((b) => b.subjects);
    expect(subjects.map((s: any) => s.name)).not.toContain('fetch');
    expect(find(chart, 'StatefulSet', 'fetch').spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  test('HTTP servers expose their port, scale, and accept only their proxy on it', () => {
    const chart = newChart();
    withConsoleWarnings((warnings) => {
      new McpServer(chart, 'gofetch', { image: 'ghcr.io/x/gofetch:1.0.0', transport: McpTransport.streamableHttp({ port: 9000 }), replicas: 3 });
      // Sessions are not pinned to a pod: more than one replica is said to suit only a server without session state
      expect(warnings.mock.calls).toEqual([[expect.stringMatching(new RegExp(
        `^\\${WARNING_PREFIX} mcp server "gofetch": replicas 3: .*does not pin an MCP session to one pod.*no per-session state$`))]]);
    });
    const set = find(chart, 'StatefulSet', 'gofetch');
    expect(set.spec.replicas).toBe(3);
    expect(set.spec.template.spec.containers[0].ports).toEqual([{ name: 'mcp', containerPort: 9000, protocol: 'TCP' }]);
    expect(set.spec.template.spec.containers[0].stdin).toBe(false);
    expect(find(chart, 'NetworkPolicy', 'gofetch-ingress').spec.ingress).toEqual([{
      from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'gofetch', 'app.kubernetes.io/name': 'toolhive-proxy' } } }],
      ports: [{ port: 9000, protocol: 'TCP' }],
    }]);
    expect(JSON.parse(find(chart, 'ConfigMap', 'mcp-gofetch-proxy').data['config.json']).backend)
      .toEqual({ type: 'http', url: 'http://gofetch.mcp.svc:9000/mcp', transport: 'streamable-http' });
  });

  test('SSE servers default to /sse', () => {
    const chart = newChart();
    new McpServer(chart, 'legacy', { image: 'a/b:1', transport: McpTransport.sse({ port: 3000 }) });
    expect(JSON.parse(find(chart, 'ConfigMap', 'mcp-legacy-proxy').data['config.json']).backend)
      .toEqual({ type: 'http', url: 'http://legacy.mcp.svc:3000/sse', transport: 'sse' });
  });

  describe('permission profiles', () => {
    const egress = (profile?: PermissionProfile) => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE, permissionProfile: profile });
      return find(chart, 'NetworkPolicy', 'fetch-egress').spec;
    };
    const dns = {
      to: [
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
        { ipBlock: { cidr: '169.254.20.10/32' } },
      ],
      ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
    };

    test('DNS also reaches the kube-dns Service IPs the app names (NodeLocal DNSCache in iptables mode), in the server\'s and its proxy\'s policies, on port 53 only', () => {
      const app = new App();
      useClusterDnsServiceIPs(app, ['10.96.0.10', 'fd00:10:96::a']);
      const chart = new Chart(app, 'test', { namespace: 'mcp' });
      new McpServer(chart, 'fetch', { image: IMAGE, permissionProfile: PermissionProfile.internet() });
      const withServiceIPs = { ...dns, to: [...dns.to, { ipBlock: { cidr: '10.96.0.10/32' } }, { ipBlock: { cidr: 'fd00:10:96::a/128' } }] };
      expect(find(chart, 'NetworkPolicy', 'fetch-egress').spec.egress[0]).toEqual(withServiceIPs);
      expect(find(chart, 'NetworkPolicy', 'mcp-fetch-proxy-egress').spec.egress[0]).toEqual(withServiceIPs);
    });

    test('refuses DNS Service IPs that are not IP addresses, however they were set', () => {
      expect(() => useClusterDnsServiceIPs(new App(), ['kube-dns.kube-system'])).toThrow(
        'context "toolhive-cdk8s/dnsServiceIPs" must be a non-empty list of IP addresses, the kube-dns Service\'s ClusterIPs (e.g. ["10.96.0.10"]); got ["kube-dns.kube-system"]',
      );
      expect(() => useClusterDnsServiceIPs(new App(), [])).toThrow(/non-empty list/);
      const app = new App();
      app.node.setContext(DNS_SERVICE_IPS_CONTEXT, '10.96.0.10');
      expect(() => new McpServer(new Chart(app, 'test', { namespace: 'mcp' }), 'fetch', { image: IMAGE, permissionProfile: PermissionProfile.internet() })).toThrow(/got "10.96.0.10"/);
    });

    test('none (the default) denies all egress', () => {
      expect(egress()).toEqual({ podSelector: expect.any(Object), policyTypes: ['Egress'], egress: [] });
    });

    test('network allows everything but link-local and the cloud metadata addresses, over IPv4 and IPv6, and warns that the cluster is reachable', () => {
      withConsoleWarnings((warnings) => {
        expect(egress(PermissionProfile.network()).egress).toEqual([dns, {
          to: [
            { ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.0.0/16', '100.100.100.200/32', '168.63.129.16/32'] } },
            { ipBlock: { cidr: '::/0', except: ['fe80::/10', 'fd00:ec2::254/128', 'fd00:ec2::23/128', 'fd20:ce::254/128'] } },
          ],
        }]);
        expect(warnings).toHaveBeenCalledWith(expect.stringMatching(new RegExp(`^\\${WARNING_PREFIX} mcp server "fetch": permissionProfile network\\(\\) lets the server reach addresses inside the cluster.*PermissionProfile.internet\\(\\)`)));
      });
      expect(NEVER_REACHABLE_CIDRS).toContain(CLOUD_METADATA_CIDR_V6);
    });

    test('internet allows public addresses only: no private, shared, unique-local, link-local or metadata range, without a warning', () => {
      withConsoleWarnings((warnings) => {
        expect(egress(PermissionProfile.internet()).egress).toEqual([dns, {
          to: [
            // 100.100.100.200 lies in 100.64.0.0/10, the fd00:ec2 and fd20:ce addresses in fc00::/7.
            { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '192.0.0.0/24', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '198.18.0.0/15', '240.0.0.0/4', '34.118.224.0/20', '169.254.0.0/16', '168.63.129.16/32'] } },
            { ipBlock: { cidr: '::/0', except: ['fc00::/7', 'fe80::/10'] } },
          ],
        }]);
        expect(warnings).not.toHaveBeenCalled();
      });
      expect(PRIVATE_CIDRS).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '192.0.0.0/24', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '198.18.0.0/15', '240.0.0.0/4', '34.118.224.0/20', 'fc00::/7']);
    });

    test('internet exceptCidrs keeps a cluster\'s public ranges out too; a range inside an excluded one adds nothing', () => {
      expect(egress(PermissionProfile.internet({ exceptCidrs: ['35.240.0.0/16', '10.1.0.0/16', '2001:db8::/32'] })).egress[1].to).toEqual([
        { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '192.0.0.0/24', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '198.18.0.0/15', '240.0.0.0/4', '34.118.224.0/20', '169.254.0.0/16', '168.63.129.16/32', '35.240.0.0/16'] } },
        { ipBlock: { cidr: '::/0', except: ['fc00::/7', 'fe80::/10', '2001:db8::/32'] } },
      ]);
    });

    test.each([
      [['10.0.0.300/8'], /exceptCidrs/],
      [['0.0.0.0/0'], /excludes every address of its family: use PermissionProfile.none\(\)/],
      [['::/0'], /excludes every address/],
    ])('internet exceptCidrs %j fails synth', (exceptCidrs, message) => {
      expect(() => egress(PermissionProfile.internet({ exceptCidrs }))).toThrow(message);
    });

    test('allowList allows the CIDRs on the ports plus DNS, excluding the never-reachable ranges inside a CIDR', () => {
      expect(egress(PermissionProfile.allowList({ cidrs: ['10.0.0.0/8', '169.0.0.0/8', '100.64.0.0/10'], ports: [443, 8443] })).egress).toEqual([dns, {
        to: [
          { ipBlock: { cidr: '10.0.0.0/8' } },
          { ipBlock: { cidr: '169.0.0.0/8', except: ['169.254.0.0/16'] } },
          { ipBlock: { cidr: '100.64.0.0/10', except: ['100.100.100.200/32'] } },
        ],
        ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 8443 }],
      }]);
      expect(egress(PermissionProfile.allowList({ cidrs: ['fd00:ec2::/32', '2001:db8::/32', 'fd20:ce::/64'] })).egress[1].to).toEqual([
        { ipBlock: { cidr: 'fd00:ec2::/32', except: ['fd00:ec2::254/128', 'fd00:ec2::23/128'] } },
        { ipBlock: { cidr: '2001:db8::/32' } },
        { ipBlock: { cidr: 'fd20:ce::/64', except: ['fd20:ce::254/128'] } },
      ]);
    });

    test('an allow list wide enough to cover an in-cluster range says so at synth; a narrower one does not', () => {
      withConsoleWarnings((warnings) => {
        egress(PermissionProfile.allowList({ cidrs: ['0.0.0.0/0'] }));
        expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/mcp server "fetch": permissionProfile allowList cidr "0.0.0.0\/0" covers 10.0.0.0\/8, 172.16.0.0\/12, .*34.118.224.0\/20, where clusters put pods, Services and nodes/));
      });
      withConsoleWarnings((warnings) => {
        egress(PermissionProfile.allowList({ cidrs: ['fc00::/7'] }));
        expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/allowList cidr "fc00::\/7" covers fc00::\/7/));
      });
      withConsoleWarnings((warnings) => {
        egress(PermissionProfile.allowList({ cidrs: ['10.20.0.0/16', '140.82.112.0/20'] }));
        expect(warnings).not.toHaveBeenCalled();
      });
    });
  });

  test('env from Secrets and ConfigMaps is by reference, never by value', () => {
    const chart = newChart();
    new McpServer(chart, 'gh', {
      image: 'a/b:1',
      env: { LOG: 'debug' },
      envFrom: [EnvFrom.secretKey('TOKEN', 'gh-token', 'token'), EnvFrom.configMapKey('ORG', 'gh', 'org'), EnvFrom.secret('extra'), EnvFrom.configMap('more')],
    });
    const mcp = find(chart, 'StatefulSet', 'gh').spec.template.spec.containers[0];
    expect(mcp.env).toEqual([
      { name: 'HOME', value: '/tmp' }, { name: 'LOG', value: 'debug' },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'gh-token', key: 'token' } } },
      { name: 'ORG', valueFrom: { configMapKeyRef: { name: 'gh', key: 'org' } } },
    ]);
    expect(mcp.envFrom).toEqual([{ secretRef: { name: 'extra' } }, { configMapRef: { name: 'more' } }]);
    expect(objectsOf(chart).filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  test('mounts ConfigMap, Secret, PVC and emptyDir volumes', () => {
    const chart = newChart();
    new McpServer(chart, 'fs', {
      image: 'a/b:1',
      volumes: [
        McpVolume.configMap({ name: 'cfg', mountPath: '/etc/cfg', configMapName: 'fs-config' }),
        McpVolume.secret({ name: 'creds', mountPath: '/var/creds', secretName: 'fs-creds' }),
        McpVolume.persistentVolumeClaim({ name: 'data', mountPath: '/data', claimName: 'fs-data' }),
        McpVolume.emptyDir({ name: 'cache', mountPath: '/cache', sizeLimit: '1Gi' }),
      ],
    });
    const pod = find(chart, 'StatefulSet', 'fs').spec.template.spec;
    expect(pod.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
      { name: 'cfg', configMap: { name: 'fs-config' } },
      { name: 'creds', secret: { secretName: 'fs-creds', defaultMode: 0o440 } },
      { name: 'data', persistentVolumeClaim: { claimName: 'fs-data', readOnly: false } },
      { name: 'cache', emptyDir: { sizeLimit: '1Gi' } },
    ]);
    expect(pod.containers[0].volumeMounts.map((m: any) => [m.mountPath, m.readOnly ?? false]))
      .toEqual([['/tmp', false], ['/etc/cfg', true], ['/var/creds', true], ['/data', false], ['/cache', false]]);
  });

  test('resources, args and pod spec overrides reach the pod', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', {
      image: IMAGE, args: ['--ignore-robots-txt'],
      resources: { cpuLimit: '2', memoryLimit: '1Gi' },
      podSpecOverrides: { nodeSelector: { pool: 'mcp' } },
    });
    const pod = find(chart, 'StatefulSet', 'fetch').spec.template.spec;
    expect(pod.containers[0].args).toEqual(['--ignore-robots-txt']);
    expect(pod.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } });
    expect(pod.nodeSelector).toEqual({ pool: 'mcp' });
  });

  test('is hardened by default: non-root 65532, read-only root, no escalation, drop ALL, RuntimeDefault', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', { image: IMAGE });
    const pod = find(chart, 'StatefulSet', 'fetch').spec.template.spec;
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsNonRoot: true });
    expect(pod.containers[0].imagePullPolicy).toBe('IfNotPresent');
  });

  test('running as root takes an explicit prop and prints a warning', () => {
    withConsoleWarnings((warnings) => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE, securityContext: { allowRunAsRoot: true } });
      const pod = find(chart, 'StatefulSet', 'fetch').spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: false, runAsUser: 0 });
      expect(pod.containers[0].securityContext.capabilities).toEqual({ drop: ['ALL'] });
      expect(warnings).toHaveBeenCalledWith(expect.stringMatching(new RegExp(`^\\${WARNING_PREFIX} mcp server "fetch": securityContext.allowRunAsRoot`)));
    });
  });

  test('a custom UID is used everywhere, without a warning', () => {
    withConsoleWarnings((warnings) => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE, securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000 } });
      const pod = find(chart, 'StatefulSet', 'fetch').spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000 });
      expect(warnings).not.toHaveBeenCalled();
    });
  });

  test('pod overrides that keep the pod restricted synthesize without a warning', () => {
    withConsoleWarnings((warnings) => {
      new McpServer(newChart(), 'fetch', { image: IMAGE, podSpecOverrides: { nodeSelector: { pool: 'mcp' }, priorityClassName: 'high' } });
      expect(warnings).not.toHaveBeenCalled();
    });
  });

  test('pod overrides that weaken the pod are said at synth time, control by control', () => {
    withConsoleWarnings((warnings) => {
      // GIVEN overrides that join the host network, mount the host's filesystem and mount a token
      const chart = newChart();
      new McpServer(chart, 'fetch', {
        image: IMAGE,
        podSpecOverrides: { hostNetwork: true, volumes: [{ name: 'host', hostPath: { path: '/' } }], automountServiceAccountToken: true, serviceAccountName: 'builder' },
      });
      // THEN the overrides win (they are an escape hatch) and every broken control is named
      const said = warnings.mock.calls.map((call) => String(call[0]));
      expect(find(chart, 'StatefulSet', 'fetch').spec.template.spec.hostNetwork).toBe(true);
      expect(said).toEqual(expect.arrayContaining([
        expect.stringMatching(/mcp server "fetch": podSpecOverrides make the pod fail Pod Security "restricted": Host Namespaces: hostNetwork is true/),
        expect.stringMatching(/mcp server "fetch": podSpecOverrides put the pod on the node.s network \(hostNetwork\): the NetworkPolicies no longer confine it/),
        expect.stringMatching(/mcp server "fetch": podSpecOverrides make the pod fail Pod Security "restricted": HostPath Volumes: volume host is a hostPath/),
        expect.stringMatching(/mcp server "fetch": podSpecOverrides.automountServiceAccountToken is not false/),
        expect.stringMatching(/mcp server "fetch": podSpecOverrides.serviceAccountName is "builder": the MCP server runs as that account instead of its own permission-less one/),
      ]));
    });
  });

  test('an image tagged latest synthesizes with a warning', () => {
    withConsoleWarnings((warnings) => {
      new McpServer(newChart(), 'fetch', { image: 'docker.io/mcp/fetch:latest' });
      expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/mcp server "fetch": image "docker.io\/mcp\/fetch:latest" uses the "latest" tag/));
    });
  });

  test('without a proxy, nothing reaches the server and no proxy objects exist', () => {
    const chart = newChart();
    const server = new McpServer(chart, 'gofetch', { image: 'a/b:1', transport: McpTransport.streamableHttp({ port: 8080 }), proxy: { enabled: false } });
    expect(server.proxy).toBeUndefined();
    expect(find(chart, 'NetworkPolicy', 'gofetch-ingress').spec.ingress).toEqual([]);
    expect(objectsOf(chart).filter((o) => o.metadata.name.startsWith('mcp-'))).toEqual([]);
  });

  test('name and namespace props override the id and the chart namespace', () => {
    const chart = newChart();
    new McpServer(chart, 'Fetch', { image: IMAGE, name: 'fetch2', namespace: 'other' });
    expect(find(chart, 'StatefulSet', 'fetch2').metadata.namespace).toBe('other');
  });
});
