/**
 * An incremental Server-Sent Events parser for streams the proxy passes through: it yields each
 * complete event with its raw text (to forward unchanged or rewrite) and its parsed name and data.
 */
export interface SseEvent {
  readonly raw: string;
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  private buffer = '';
  private readonly onEvent: (event: SseEvent) => void;

  constructor(onEvent: (event: SseEvent) => void) {
    this.onEvent = onEvent;
  }

  push(chunk: string): void {
    this.buffer += chunk.includes('\r') ? chunk.replace(/\r\n?/g, '\n') : chunk;
    let end = this.buffer.indexOf('\n\n');
    while (end !== -1) {
      const raw = this.buffer.slice(0, end + 2);
      this.buffer = this.buffer.slice(end + 2);
      this.emit(raw);
      end = this.buffer.indexOf('\n\n');
    }
  }

  /** Text of an event not yet complete (forwarded as is when the stream ends). */
  rest(): string {
    const rest = this.buffer;
    this.buffer = '';
    return rest;
  }

  private emit(raw: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of raw.split('\n')) {
      if (line.length === 0 || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    this.onEvent({ raw, event, data: data.join('\n') });
  }
}
