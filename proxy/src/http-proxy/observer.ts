/**
 * Metrics and spans for requests that pass through the reverse proxy: the proxy does not answer
 * them, it watches them go by. A request starts when its POST is read and ends when a response with
 * its id is seen (in a JSON body or an SSE event), or when the exchange fails or times out.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { classify, type JsonRpcMessage } from '../jsonrpc.ts';
import { methodLabel, toolNamesOf, type RequestStatus, type SpanHandle, type Telemetry, type TransportLabel } from '../telemetry/telemetry.ts';

interface Entry {
  readonly method: string;
  readonly tool: string | undefined;
  readonly startedAt: number;
  readonly span: SpanHandle | undefined;
}

export class RequestObserver {
  private readonly entries = new Map<string, Entry>();
  private readonly telemetry: Telemetry;
  private readonly transport: TransportLabel;

  constructor(telemetry: Telemetry, transport: TransportLabel) {
    this.telemetry = telemetry;
    this.transport = transport;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Records the requests of a POSTed body; writes the first span's context into `outgoing` headers. */
  begin(body: unknown, headers: IncomingHttpHeaders, outgoing: OutgoingHttpHeaders, sessionId: string | undefined): void {
    const items = Array.isArray(body) ? body : [body];
    let injected = false;
    for (const item of items) {
      if (classify(item) !== 'request') continue;
      const message = item as JsonRpcMessage;
      const method = message.method!;
      const name = message.params?.name;
      const tool = method === 'tools/call' ? this.telemetry.toolLabel(name) : undefined;
      const target = (method === 'tools/call' || method === 'prompts/get') && typeof name === 'string' ? name.slice(0, 200) : undefined;
      const span = this.telemetry.startSpan({ method, target, sessionId, requestId: message.id!, transport: this.transport, headers, meta: message.params?._meta });
      if (span && !injected) {
        const carrier: Record<string, unknown> = {};
        span.inject(carrier);
        Object.assign(outgoing, carrier);
        injected = true;
      }
      this.entries.set(JSON.stringify(message.id), { method, tool, startedAt: performance.now(), span });
    }
  }

  /** Looks at a message coming back from the server; ends the request it answers. */
  see(value: unknown): void {
    if (this.entries.size === 0 || typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) this.see(item);
      return;
    }
    const message = value as JsonRpcMessage;
    if (message.method !== undefined || message.id === undefined) return;
    const tools = toolNamesOf(message.result);
    if (tools.length > 0) this.telemetry.announceTools(tools);
    this.end(JSON.stringify(message.id), message.error ? 'error' : 'success', message.error?.code);
  }

  seeText(text: string): void {
    if (this.entries.size === 0) return;
    try {
      this.see(JSON.parse(text));
    } catch {
      // Not JSON: nothing to learn from it.
    }
  }

  private end(key: string, status: RequestStatus, code?: number): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.telemetry.request(methodLabel(entry.method), status, this.transport, (performance.now() - entry.startedAt) / 1000, entry.tool);
    entry.span?.end(status, code);
  }

  /** Ends every request still open (the exchange failed, timed out or closed without answers). */
  endAll(status: RequestStatus, code?: number): void {
    for (const key of [...this.entries.keys()]) this.end(key, status, code);
  }
}
