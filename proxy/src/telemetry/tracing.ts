/**
 * Traces with the OpenTelemetry JS SDK, exported over OTLP/HTTP: one SERVER span per MCP request,
 * named `<method> <target>` (`tools/call echo`), with the MCP semantic-convention attributes.
 * The parent comes from the W3C `traceparent`/`tracestate` HTTP headers, else from `params._meta`
 * (where MCP clients put it); the span's own context is written into the forwarded request's
 * `params._meta`, so a server that traces continues the trace.
 *
 * The provider is private to the proxy (not registered globally) and only exists when traces are
 * configured: with tracing off, no span object is ever created.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, defaultTextMapGetter, defaultTextMapSetter, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ResolvedProxyConfig } from '../config-validate.ts';
import type { Logger } from '../log.ts';
import { proxyResource } from './resource.ts';
import type { SpanHandle, SpanStart } from './telemetry.ts';

export interface Tracing {
  startSpan(start: SpanStart): SpanHandle;
  shutdown(): Promise<void>;
}

const otlpUrl = (endpoint: string, path: string): string => endpoint.replace(/\/+$/, '') + path;

export function createTracing(config: ResolvedProxyConfig, logger: Logger, exporter?: SpanExporter): Tracing {
  const otlp = config.telemetry.otlp!;
  const provider = new BasicTracerProvider({
    resource: proxyResource(config),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(otlp.samplingRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter ?? new OTLPTraceExporter({ url: otlpUrl(otlp.endpoint, '/v1/traces'), headers: { ...otlp.headers } }))],
  });
  const tracer = provider.getTracer('toolhive-proxy');
  const propagator = new W3CTraceContextPropagator();
  logger.info('tracing enabled', { endpoint: otlp.endpoint, samplingRatio: otlp.samplingRatio });

  const parentOf = (start: SpanStart): Context => {
    if (start.headers?.traceparent) return propagator.extract(ROOT_CONTEXT, start.headers, defaultTextMapGetter);
    if (start.meta && typeof start.meta.traceparent === 'string') return propagator.extract(ROOT_CONTEXT, start.meta, defaultTextMapGetter);
    return ROOT_CONTEXT;
  };

  return {
    startSpan(start) {
      const attributes: Record<string, string | number> = {
        'mcp.method.name': start.method,
        'network.transport': 'tcp',
        'mcp.transport': start.transport,
      };
      if (start.sessionId) attributes['mcp.session.id'] = start.sessionId;
      if (start.requestId !== undefined) attributes['jsonrpc.request.id'] = String(start.requestId);
      if (start.method === 'tools/call' && start.target) attributes['gen_ai.tool.name'] = start.target;
      if (start.method === 'prompts/get' && start.target) attributes['gen_ai.prompt.name'] = start.target;
      const span = tracer.startSpan(start.target ? `${start.method} ${start.target}` : start.method, { kind: SpanKind.SERVER, attributes }, parentOf(start));
      return {
        inject(meta) {
          propagator.inject(trace.setSpan(ROOT_CONTEXT, span), meta, defaultTextMapSetter);
        },
        end(status, errorCode) {
          if (status !== 'success') {
            span.setStatus({ code: SpanStatusCode.ERROR, message: status });
            span.setAttribute('error.type', errorCode !== undefined ? String(errorCode) : status);
            if (errorCode !== undefined) span.setAttribute('rpc.jsonrpc.error_code', errorCode);
          }
          span.end();
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}
