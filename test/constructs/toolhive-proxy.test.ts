import { describe, expect, test } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { Exposure, McpServer, McpTransport, RbacScope, ToolHiveProxy } from '../../lib/index.ts';
import { renderDist } from '../../lib/dist/write-dist.ts';
import type { IProxyObservability, ProxyObservabilityTarget } from '../../lib/observability-binding.ts';
import { find, newChart, objectsOf, withConsoleWarnings } from './_util.ts';
import { WARNING_PREFIX } from '../../lib/_warnings.ts';

const IMAGE = 'docker.io/mcp/fetch:2025.4.7';
const config = (chart: ReturnType<typeof newChart>, name = 'mcp-fetch-proxy') => JSON.parse(find(chart, 'ConfigMap', name).data['config.json']);

describe('ToolHiveProxy', () => {
  test('defaults (snapshot)', () => {
    // GIVEN
    const chart = newChart();
    // WHEN
    new ToolHiveProxy(chart, 'proxy', { serverName: 'fetch' });
    // THEN
    expect(objectsOf(chart)).toMatchSnapshot();
  });

  test('attaches to pod 0 of its stdio server through a ConfigMap the proxy reads', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', { image: IMAGE });
    expect(config(chart)).toMatchObject({
      server: 'fetch',
      backend: { type: 'attach', namespace: 'mcp', pod: 'fetch-0', container: 'mcp' },
      listen: { port: 8080, metricsPort: 9464 },
    });
    const container = find(chart, 'Deployment', 'mcp-fetch-proxy').spec.template.spec.containers[0];
    expect(container.args).toEqual(['--config', '/etc/toolhive-proxy/config.json']);
    expect(container.image).toBe('ghcr.io/toolhive-cdk8s/toolhive-proxy:0.1.0');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
  });

  test('fronts a stdio server with exactly one pod, replaced not rolled', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', { image: IMAGE });
    const deployment = find(chart, 'Deployment', 'mcp-fetch-proxy');
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
  });

  test('scales and rolls in front of an HTTP server, which needs no API access', () => {
    const chart = newChart();
    new McpServer(chart, 'gofetch', { image: 'a/b:1', transport: McpTransport.streamableHttp({ port: 8080 }), proxy: { replicas: 3 } });
    const deployment = find(chart, 'Deployment', 'mcp-gofetch-proxy');
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate' });
    expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(objectsOf(chart).filter((o) => /Role/.test(o.kind))).toEqual([]);
    const egress = find(chart, 'NetworkPolicy', 'mcp-gofetch-proxy-egress').spec.egress;
    expect(egress[1]).toEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mcp' } }, podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'gofetch', 'app.kubernetes.io/name': 'mcp-server' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    });
  });

  test('Service mcp-<name>-proxy has port 8080 named http and the metrics port apart', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', { image: IMAGE });
    expect(find(chart, 'Service', 'mcp-fetch-proxy').spec.ports.map((p: any) => [p.name, p.port])).toEqual([['http', 8080], ['metrics', 9464]]);
  });

  describe('RBAC', () => {
    const rules = [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'watch'], resourceNames: ['fetch-0'] },
      { apiGroups: [''], resources: ['pods/attach'], verbs: ['get', 'create'], resourceNames: ['fetch-0'] },
    ];
    const rbacOf = (scope?: RbacScope) => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE, proxy: { rbacScope: scope } });
      return objectsOf(chart).filter((o) => /Role/.test(o.kind)).map((o) => ({ kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace, rules: o.rules, roleRef: o.roleRef }));
    };

    test('default: a Role and RoleBinding in the server namespace, limited to its pod', () => {
      expect(rbacOf()).toEqual([
        { kind: 'Role', name: 'mcp-fetch-proxy', namespace: 'mcp', rules, roleRef: undefined },
        { kind: 'RoleBinding', name: 'mcp-fetch-proxy', namespace: 'mcp', rules: undefined, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mcp-fetch-proxy' } },
      ]);
    });

    test('namespace scope: one ClusterRole (without namespace), RoleBindings only in the listed namespaces', () => {
      expect(rbacOf(RbacScope.namespace(['mcp', 'team-b']))).toEqual([
        { kind: 'ClusterRole', name: 'mcp:mcp-fetch-proxy', namespace: undefined, rules, roleRef: undefined },
        ...['mcp', 'team-b'].map((ns) => ({ kind: 'RoleBinding', name: 'mcp:mcp-fetch-proxy', namespace: ns, rules: undefined, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mcp:mcp-fetch-proxy' } })),
      ]);
    });

    test('cluster scope: ClusterRole and ClusterRoleBinding, neither with a namespace, and a warning', () => {
      withConsoleWarnings((warnings) => {
        expect(rbacOf(RbacScope.cluster())).toEqual([
          { kind: 'ClusterRole', name: 'mcp:mcp-fetch-proxy', namespace: undefined, rules, roleRef: undefined },
          { kind: 'ClusterRoleBinding', name: 'mcp:mcp-fetch-proxy', namespace: undefined, rules: undefined, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mcp:mcp-fetch-proxy' } },
        ]);
        expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/mcp server "fetch": rbacScope is RbacScope.cluster\(\): the proxy may attach to a pod named "fetch-0" in every namespace, not only "mcp"/));
      });
    });

    test('names never collide across namespaces: not "team"+"a-everything" vs "team-a"+"everything", nor bindings in a shared namespace', () => {
      const app = new App();
      withConsoleWarnings(() => {
        new McpServer(new Chart(app, 'one', { namespace: 'team' }), 'a-everything', { image: IMAGE, proxy: { rbacScope: RbacScope.cluster() } });
        new McpServer(new Chart(app, 'two', { namespace: 'team-a' }), 'everything', { image: IMAGE, proxy: { rbacScope: RbacScope.cluster() } });
      });
      new McpServer(new Chart(app, 'three', { namespace: 'ns1' }), 'fetch', { image: IMAGE, proxy: { rbacScope: RbacScope.namespace(['ns1', 'shared']) } });
      new McpServer(new Chart(app, 'four', { namespace: 'ns2' }), 'fetch', { image: IMAGE, proxy: { rbacScope: RbacScope.namespace(['ns2', 'shared']) } });
      const ids = renderDist(app).flatMap((f) => f.content.split('\n---\n')).length;
      expect(ids).toBeGreaterThan(0); // renderDist refuses duplicate objects, so reaching here means none
      const names = app.charts.flatMap((c) => objectsOf(c)).filter((o) => /Role/.test(o.kind)).map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      expect(names).toEqual(expect.arrayContaining([
        'ClusterRole /team:mcp-a-everything-proxy', 'ClusterRole /team-a:mcp-everything-proxy',
        'RoleBinding shared/ns1:mcp-fetch-proxy', 'RoleBinding shared/ns2:mcp-fetch-proxy',
      ]));
      expect(new Set(names).size).toBe(names.length);
    });
  });

  describe('network policies', () => {
    /** A client namespace's peer: any pod there but an MCP server. */
    const clientsIn = (namespace: string | undefined): unknown => ({
      namespaceSelector: namespace ? { matchLabels: { 'kubernetes.io/metadata.name': namespace } } : {},
      podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['mcp-server'] }] },
    });

    test('8080 from the proxy\'s own namespace but not MCP servers, 9464 from the monitoring namespace; egress DNS and the API server', () => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE });
      expect(find(chart, 'NetworkPolicy', 'mcp-fetch-proxy-ingress').spec.ingress).toEqual([
        { from: [clientsIn('mcp')], ports: [{ protocol: 'TCP', port: 8080 }] },
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9464 }] },
      ]);
      const egress = find(chart, 'NetworkPolicy', 'mcp-fetch-proxy-egress').spec.egress;
      expect(egress[1]).toEqual({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }] });
    });

    test('client namespaces replace the default; every namespace takes ["*"] and prints a warning', () => {
      const from = (clientNamespaces: readonly string[]): unknown => {
        const chart = newChart();
        new McpServer(chart, 'fetch', { image: IMAGE, proxy: { clientNamespaces } });
        return find(chart, 'NetworkPolicy', 'mcp-fetch-proxy-ingress').spec.ingress[0].from;
      };
      withConsoleWarnings((warnings) => {
        expect(from(['agents', 'ci'])).toEqual([clientsIn('agents'), clientsIn('ci')]);
        expect(warnings).not.toHaveBeenCalled();
        expect(from(['*'])).toEqual([clientsIn(undefined)]);
        expect(warnings.mock.calls).toEqual([[`${WARNING_PREFIX} mcp server "fetch": proxy.clientNamespaces ["*"]: pods in every namespace may call this server's tools on port 8080`]]);
      });
    });

    test('an exposure adds its controller namespace to 8080; monitoring namespace and API CIDRs are configurable', () => {
      const chart = newChart();
      new McpServer(chart, 'fetch', {
        image: IMAGE,
        exposure: Exposure.ingress({ host: 'fetch.example.com', controllerNamespace: 'ingress-nginx' }),
        proxy: { monitoringNamespace: 'observability', apiServerCidrs: ['10.0.0.1/32'] },
      });
      const ingress = find(chart, 'NetworkPolicy', 'mcp-fetch-proxy-ingress').spec.ingress;
      expect(ingress[0].from).toEqual([clientsIn('mcp'), clientsIn('ingress-nginx')]);
      expect(ingress[1].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } }]);
      expect(find(chart, 'NetworkPolicy', 'mcp-fetch-proxy-egress').spec.egress[1].to).toEqual([{ ipBlock: { cidr: '10.0.0.1/32' } }]);
    });

    test('without telemetry the proxy container gets no environment', () => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE });
      expect(find(chart, 'Deployment', 'mcp-fetch-proxy').spec.template.spec.containers[0].env).toBeUndefined();
    });

    test('applies an observability binding: telemetry config, scrapers and telemetry egress', () => {
      const targets: ProxyObservabilityTarget[] = [];
      const observability: IProxyObservability = {
        bindProxy: (target) => {
          targets.push(target);
          return {
            telemetry: { otlp: { endpoint: 'http://otel-collector.monitoring:4318' } },
            metricsScrapers: [{ namespace: 'prometheus', podLabels: { app: 'prometheus' } }],
            telemetryEgress: [{ namespace: 'monitoring', podLabels: { app: 'otel' }, ports: [4318] }],
          };
        },
      };
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE, observability });
      expect(targets.map((t) => [t.serverName, t.namespace, t.metricsPort, t.metricsPortName, t.selectorLabels])).toEqual([
        ['fetch', 'mcp', 9464, 'metrics', { 'app.kubernetes.io/name': 'toolhive-proxy', 'app.kubernetes.io/instance': 'fetch' }],
      ]);
      expect(config(chart).telemetry).toEqual({ otlp: { endpoint: 'http://otel-collector.monitoring:4318' } });
      // The pod's identity reaches the proxy's OpenTelemetry resource from the downward API.
      const env = find(chart, 'Deployment', 'mcp-fetch-proxy').spec.template.spec.containers[0].env;
      expect(env).toEqual([
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
        { name: 'OTEL_RESOURCE_ATTRIBUTES', value: 'k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.uid=$(POD_UID)' },
      ]);
      expect(find(chart, 'NetworkPolicy', 'mcp-fetch-proxy-ingress').spec.ingress[1].from).toContainEqual({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'prometheus' } }, podSelector: { matchLabels: { app: 'prometheus' } },
      });
      expect(find(chart, 'NetworkPolicy', 'mcp-fetch-proxy-egress').spec.egress).toContainEqual({
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { app: 'otel' } } }],
        ports: [{ protocol: 'TCP', port: 4318 }],
      });
    });
  });

  describe('exposure', () => {
    test('Ingress with class, host and TLS to the http port; host allowed by the proxy', () => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE, exposure: Exposure.ingress({ host: 'fetch.example.com', className: 'nginx', tlsSecretName: 'fetch-tls', controllerNamespace: 'ingress-nginx' }) });
      expect(find(chart, 'Ingress', 'mcp-fetch-proxy').spec).toEqual({
        ingressClassName: 'nginx',
        tls: [{ hosts: ['fetch.example.com'], secretName: 'fetch-tls' }],
        rules: [{ host: 'fetch.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'mcp-fetch-proxy', port: { name: 'http' } } } }] } }],
      });
      expect(config(chart).security.allowedHosts).toContain('fetch.example.com');
    });

    test('Gateway API HTTPRoute to the proxy Service', () => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE, exposure: Exposure.httpRoute({ gatewayName: 'public', gatewayNamespace: 'gateways', hostnames: ['mcp.example.com'], controllerNamespace: 'gateways' }) });
      expect(find(chart, 'HTTPRoute', 'mcp-fetch-proxy').spec).toEqual({
        parentRefs: [{ name: 'public', namespace: 'gateways' }],
        hostnames: ['mcp.example.com'],
        rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'mcp-fetch-proxy', port: 8080 }] }],
      });
    });
  });

  test('limits, origins, hosts, log level, image and resources reach the proxy', () => {
    const chart = newChart();
    new McpServer(chart, 'fetch', {
      image: IMAGE,
      proxy: {
        image: 'registry.local/proxy:9.9.9', limits: { maxBodyBytes: 1024 }, allowedOrigins: ['https://app.example.com'],
        extraAllowedHosts: ['mcp.internal'], logLevel: 'debug', resources: { memoryLimit: '1Gi' },
        podSpecOverrides: { priorityClassName: 'high' },
      },
    });
    expect(config(chart)).toMatchObject({ limits: { maxBodyBytes: 1024 }, security: { allowedOrigins: ['https://app.example.com'] }, logging: { level: 'debug' } });
    expect(config(chart).security.allowedHosts).toEqual(expect.arrayContaining(['mcp-fetch-proxy', 'mcp-fetch-proxy.mcp', '*.svc', 'mcp.internal']));
    const pod = find(chart, 'Deployment', 'mcp-fetch-proxy').spec.template.spec;
    expect(pod.containers[0].image).toBe('registry.local/proxy:9.9.9');
    expect(pod.containers[0].resources.limits.memory).toBe('1Gi');
    expect(pod.priorityClassName).toBe('high');
  });

  test('proxy pod overrides that weaken the pod are said at synth time', () => {
    withConsoleWarnings((warnings) => {
      new McpServer(newChart(), 'fetch', { image: IMAGE, proxy: { podSpecOverrides: { hostPid: true } } });
      expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/mcp server "fetch": proxy.podSpecOverrides make the pod fail Pod Security "restricted": Host Namespaces: hostPID is true/));
      expect(warnings).toHaveBeenCalledTimes(1);
      new McpServer(newChart(), 'fetch', { image: IMAGE, proxy: { podSpecOverrides: { serviceAccountName: 'shared' } } });
      expect(warnings).toHaveBeenLastCalledWith(expect.stringMatching(/proxy.podSpecOverrides.serviceAccountName is "shared": the proxy runs as that account, not "mcp-fetch-proxy" which the synthesized RBAC is bound to, .*and cannot attach unless it may/));
    });
  });

  test('a configuration change changes the pod template, so the Deployment rolls', () => {
    const annotation = (level: 'info' | 'debug') => {
      const chart = newChart();
      new McpServer(chart, 'fetch', { image: IMAGE, proxy: { logLevel: level } });
      return find(chart, 'Deployment', 'mcp-fetch-proxy').spec.template.metadata.annotations['toolhive-cdk8s.dev/config-sha256'];
    };
    expect(annotation('info')).toMatch(/^[0-9a-f]{64}$/);
    expect(annotation('info')).not.toBe(annotation('debug'));
  });
});
