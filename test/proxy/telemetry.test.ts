/**
 * Telemetry end to end: Prometheus `/metrics` on its own port with bounded labels, and OTLP/HTTP
 * traces and metrics received by a local collector endpoint (real exporters, real HTTP).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnBackend } from '../support/backends.ts';
import { freePort, raw, rawPost, rawSession, startTestProxy, waitFor, useTestProxy, type TestProxy } from '../support/proxy-harness.ts';

const call = (name: string, id: number | string = 1, meta?: Record<string, unknown>) => ({
  jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { message: 'm' }, ...(meta ? { _meta: meta } : {}) },
});

/**
 * How the collector's `prometheus` and `prometheusremotewrite` exporters name an OTLP metric
 * (prometheus/otlptranslator, suffixes on): `{annotations}` are dropped from the unit, known units
 * are spelled out, a gauge of unit `1` gains `_ratio`, a monotonic sum gains `_total`.
 */
function prometheusName(name: string, unit: string, kind: 'counter' | 'gauge' | 'histogram'): string {
  const spelled: Record<string, string> = { s: 'seconds', ms: 'milliseconds', By: 'bytes', 1: '' };
  const main = unit.replace(/\{[^}]*\}/g, '');
  const suffix = spelled[main] ?? main;
  let result = suffix && !name.endsWith(`_${suffix}`) ? `${name}_${suffix}` : name;
  if (kind === 'gauge' && main === '1') result += '_ratio';
  if (kind === 'counter') result += '_total';
  return result;
}

describe('Prometheus metrics', () => {
  const proxy = useTestProxy(spawnBackend, async () => ({ listen: { metricsPort: await freePort() } }));

  it('counts requests by method, status and transport, and tool calls by announced tool', async () => {
    const session = await rawSession(proxy.mcpUrl);
    await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    for (let i = 0; i < 3; i++) await rawPost(proxy.mcpUrl, session, call('echo', i));
    await rawPost(proxy.mcpUrl, session, call('no-such-tool-xyz', 9));
    const scraped = await raw(proxy.proxy.metricsUrl!);
    expect(scraped.headers.get('content-type')).toContain('text/plain');
    const text = scraped.text;
    expect(text).toMatch(/toolhive_mcp_requests_total\{server="everything",method="tools\/call",status="success",transport="streamable-http"\} 4/);
    expect(text).toMatch(/toolhive_mcp_tool_calls_total\{server="everything",tool="echo",status="success"\} 3/);
    expect(text).toMatch(/toolhive_mcp_tool_calls_total\{server="everything",tool="other",status="success"\} 1/);
    expect(text).not.toContain('no-such-tool-xyz');
    expect(text).toMatch(/toolhive_mcp_request_duration_seconds_bucket\{le="0.0005",server="everything",method="tools\/call",status="success",transport="streamable-http"\} \d+/);
    expect(text).toMatch(/toolhive_mcp_sessions\{server="everything",transport="streamable-http"\} [1-9]/);
    expect(text).toMatch(/toolhive_mcp_backend_up\{server="everything",backend="spawn"\} 1/);
    expect(text).toMatch(/toolhive_mcp_inflight_requests\{server="everything"\} 0/);
    expect(text).toMatch(/toolhive_mcp_active_connections\{server="everything",transport="streamable-http"\} 0/);
  });

  it('serves /metrics on the metrics port only', async () => {
    expect(new URL(proxy.proxy.metricsUrl!).port).not.toBe(new URL(proxy.proxy.url).port);
    expect((await raw(`${proxy.proxy.url}/metrics`)).status).toBe(404);
  });

  it('records unknown methods as "other"', async () => {
    const session = await rawSession(proxy.mcpUrl);
    await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 1, method: 'made/up-method' });
    const text = await proxy.proxy.telemetry.prometheus.registry.metrics();
    expect(text).not.toContain('made/up-method');
    expect(text).toMatch(/toolhive_mcp_requests_total\{server="everything",method="other",status="error",transport="streamable-http"\} 1/);
  });
});

describe('OTLP export', () => {
  let collector: Server;
  let endpoint: string;
  const received: Record<string, unknown[]> = { '/v1/traces': [], '/v1/metrics': [] };
  let proxy: TestProxy;

  beforeAll(async () => {
    collector = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        (received[req.url ?? ''] ??= []).push({ headers: req.headers, body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    // As the constructs set it from the downward API (service.name here must lose to the configured one).
    process.env['OTEL_RESOURCE_ATTRIBUTES'] = 'k8s.pod.name=mcp-fetch-proxy-5d9c7-abcde,k8s.namespace.name=team-a,k8s.pod.uid=0b6f3c1e-1111-4c2a-9d4e-123456789abc,service.name=from-environment';
    proxy = await startTestProxy(spawnBackend, {
      telemetry: { serviceName: 'proxy-under-test', otlp: { endpoint, headers: { 'x-tenant': 'team-a' }, metricsExportIntervalMs: 200 } },
    });
  });
  afterAll(async () => {
    delete process.env['OTEL_RESOURCE_ATTRIBUTES'];
    await proxy?.close();
    collector?.close();
  });

  const resourceOf = (resource: { attributes: Array<{ key: string; value: Record<string, unknown> }> }) =>
    Object.fromEntries(resource.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
  const POD_RESOURCE = {
    'service.name': 'proxy-under-test', 'mcp.server.name': 'everything',
    'k8s.pod.name': 'mcp-fetch-proxy-5d9c7-abcde', 'k8s.namespace.name': 'team-a', 'k8s.pod.uid': '0b6f3c1e-1111-4c2a-9d4e-123456789abc',
  };

  it('exports a span per request named "<method> <target>" with MCP attributes and the client trace as parent', async () => {
    const session = await rawSession(proxy.mcpUrl);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await rawPost(proxy.mcpUrl, session, call('echo', 'traced'), { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const metaTrace = '0af7651916cd43dd8448eb211c80319c';
    await rawPost(proxy.mcpUrl, session, call('echo', 'meta', { traceparent: `00-${metaTrace}-b7ad6b7169203331-01` }));
    await proxy.close(); // flushes the batch processor
    const spans = (received['/v1/traces'] as Array<{ headers: Record<string, string>; body: any }>).flatMap((request) =>
      request.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((span: any) => ({ span, resource: rs.resource, headers: request.headers })))),
    );
    const fromHeader = spans.find(({ span }) => span.traceId === traceId);
    expect(fromHeader).toBeDefined();
    expect(fromHeader!.span.name).toBe('tools/call echo');
    expect(fromHeader!.span.parentSpanId).toBe('00f067aa0ba902b7');
    expect(fromHeader!.headers['x-tenant']).toBe('team-a');
    const attributes = Object.fromEntries(fromHeader!.span.attributes.map((a: any) => [a.key, Object.values(a.value)[0]]));
    expect(attributes).toMatchObject({ 'mcp.method.name': 'tools/call', 'mcp.session.id': session, 'gen_ai.tool.name': 'echo', 'jsonrpc.request.id': 'traced' });
    expect(resourceOf(fromHeader!.resource)).toMatchObject(POD_RESOURCE);
    expect(spans.some(({ span }) => span.traceId === metaTrace && span.parentSpanId === 'b7ad6b7169203331')).toBe(true);
  });

  it('exports the metrics under their OpenTelemetry names', async () => {
    await waitFor(() => received['/v1/metrics'].length > 0, 5_000, 'a metrics export');
    const names = new Set(
      (received['/v1/metrics'] as Array<{ body: any }>).flatMap((request) =>
        request.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((metric: any) => metric.name))),
      ),
    );
    for (const name of ['toolhive_mcp_requests', 'toolhive_mcp_request_duration', 'toolhive_mcp_tool_calls', 'toolhive_mcp_sessions', 'toolhive_mcp_backend_up']) {
      expect(names.has(name)).toBe(true);
    }
    for (const request of received['/v1/metrics'] as Array<{ body: any }>) {
      for (const rm of request.body.resourceMetrics) expect(resourceOf(rm.resource)).toMatchObject(POD_RESOURCE);
    }
  });

  it('exports names, units and types that a collector turns back into the names dashboards and alerts query', async () => {
    const { METRICS } = await import('../../proxy/src/telemetry/metric-definitions.ts');
    await waitFor(() => received['/v1/metrics'].length > 0, 5_000, 'a metrics export');
    const exported = new Map<string, string>();
    for (const request of received['/v1/metrics'] as Array<{ body: any }>) {
      for (const metric of request.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics))) {
        const kind = metric.histogram ? 'histogram' : metric.sum?.isMonotonic ? 'counter' : 'gauge';
        exported.set(metric.name, prometheusName(metric.name, metric.unit ?? '', kind));
      }
    }
    // A counter has no data point before its first increment: no restart happened here.
    const definitions = Object.values(METRICS).filter((d) => d !== METRICS.backendRestarts);
    for (const definition of definitions) {
      expect([definition.otel.name, exported.get(definition.otel.name)]).toEqual([definition.otel.name, definition.name]);
    }
  });

});

describe('telemetry configuration', () => {
  it('records spans only when OTLP traces are on', async () => {
    const { createTelemetry } = await import('../../proxy/src/telemetry/index.ts');
    const { validateProxyConfig } = await import('../../proxy/src/config.ts');
    const { silentLogger } = await import('../../proxy/src/log.ts');
    const base = { server: 'x', backend: { type: 'spawn', command: 'node' } };
    const off = await createTelemetry(validateProxyConfig(base), 'spawn', silentLogger);
    expect(off.tracing).toBe(false);
    const metricsOnly = await createTelemetry(validateProxyConfig({ ...base, telemetry: { otlp: { endpoint: 'http://127.0.0.1:9', traces: false } } }), 'spawn', silentLogger);
    expect(metricsOnly.tracing).toBe(false);
    const tracesOnly = await createTelemetry(validateProxyConfig({ ...base, telemetry: { otlp: { endpoint: 'http://127.0.0.1:9', metrics: false } } }), 'spawn', silentLogger);
    expect(tracesOnly.tracing).toBe(true);
    await Promise.all([off.shutdown(), metricsOnly.shutdown(), tracesOnly.shutdown()]);
  });
});
