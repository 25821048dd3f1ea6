/**
 * Splits a byte stream into newline-delimited lines. Chunks arrive as UTF-8 strings (the stream's
 * decoder keeps multi-byte characters whole); a line may span chunks and a chunk may hold many lines.
 * A trailing "\r" is dropped (CRLF servers); empty lines are skipped.
 */
export class LineSplitter {
  private partial = '';
  private readonly onLine: (line: string) => void;

  constructor(onLine: (line: string) => void) {
    this.onLine = onLine;
  }

  push(chunk: string): void {
    let start = 0;
    let newline = chunk.indexOf('\n');
    if (newline === -1) {
      this.partial += chunk;
      return;
    }
    let line = this.partial + chunk.slice(0, newline);
    this.partial = '';
    for (;;) {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > 0) this.onLine(line);
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
      if (newline === -1) break;
      line = chunk.slice(start, newline);
    }
    if (start < chunk.length) this.partial = chunk.slice(start);
  }

  /** Drops a partial line (the connection it came from is gone). Returns how many characters were lost. */
  reset(): number {
    const lost = this.partial.length;
    this.partial = '';
    return lost;
  }
}
