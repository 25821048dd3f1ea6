/**
 * The small pure pieces: line splitting, backoff, JSON-RPC classification, version negotiation,
 * the Host/Origin guard, restart-reason labels, what is held for a server while it is unreachable.
 */
import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { Backoff } from '../../proxy/src/backends/backoff.ts';
import { LineSplitter } from '../../proxy/src/backends/line-splitter.ts';
import { createRequestGuard } from '../../proxy/src/front/http-util.ts';
import { createLogger } from '../../proxy/src/log.ts';
import { HeldForProcess } from '../../proxy/src/mux/held.ts';
import { IdTable } from '../../proxy/src/mux/id-table.ts';
import { classify, trailingId } from '../../proxy/src/jsonrpc.ts';
import { allowsBatches, negotiateVersion } from '../../proxy/src/protocol.ts';
import { restartReasonLabel } from '../../proxy/src/telemetry/telemetry.ts';

describe('LineSplitter', () => {
  it('joins lines split across chunks and splits chunks holding many lines', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    for (const chunk of ['{"a":', '1}\n{"b":2}\r\n\n{"c"', ':3}\n{"d":4']) splitter.push(chunk);
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(splitter.reset()).toBe('{"d":4'.length);
    splitter.push('{"e":5}\n');
    expect(lines.at(-1)).toBe('{"e":5}');
  });
});

describe('IdTable', () => {
  it('keeps the ids 1 and "1" apart, counts entries, and reports what it deleted', () => {
    const table = new IdTable<string>();
    table.set(1, 'number');
    table.set('1', 'string');
    table.set('s1', 'prefixed string');
    expect([table.get(1), table.get('1'), table.get('s1'), table.get(2), table.size]).toEqual(['number', 'string', 'prefixed string', undefined, 3]);
    table.set(1, 'replaced');
    expect([table.get(1), table.size]).toEqual(['replaced', 3]);
    expect([table.delete('1'), table.delete('1'), table.get(1), table.size]).toEqual([true, false, 'replaced', 2]);
  });

  it('lists increasing integer ids oldest first, across a long run of adds and deletes', () => {
    const table = new IdTable<number>();
    const live: number[] = [];
    for (let id = 1; id <= 200_000; id++) {
      table.set(id, id);
      live.push(id);
      // Most requests end soon, a few stay: the table holds a sliding window with stragglers.
      if (id % 1000 !== 0 && live.length > 20) table.delete(live.splice(live.length - 21, 1)[0]!);
    }
    expect(table.size).toBe(live.length);
    expect(table.values()).toEqual([...live].sort((a, b) => a - b));
  });

  it('gives a snapshot that deleting while iterating does not disturb', () => {
    const table = new IdTable<string>();
    for (const id of ['a', 'b', 'c']) table.set(id, id);
    const seen: string[] = [];
    for (const value of table.values()) {
      seen.push(value);
      table.delete(value);
    }
    expect([seen, table.size, table.values()]).toEqual([['a', 'b', 'c'], 0, []]);
  });
});

describe('Backoff', () => {
  it('doubles up to the cap with jitter in [delay/2, delay], and resets', () => {
    const highest = new Backoff({ initialDelayMs: 100, maxDelayMs: 1_000 }, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(() => highest.next())).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    const lowest = new Backoff({ initialDelayMs: 100, maxDelayMs: 1_000 }, () => 0);
    expect([1, 2, 3].map(() => lowest.next())).toEqual([50, 100, 200]);
    lowest.reset();
    expect(lowest.next()).toBe(50);
  });
});

describe('classify', () => {
  it.each([
    [{ jsonrpc: '2.0', id: 1, method: 'ping' }, 'request'],
    [{ jsonrpc: '2.0', id: 'x', method: 'ping', params: {} }, 'request'],
    [{ jsonrpc: '2.0', method: 'notifications/initialized' }, 'notification'],
    [{ jsonrpc: '2.0', id: 3, result: {} }, 'response'],
    [{ jsonrpc: '2.0', id: 3, error: { code: 1, message: 'x' } }, 'response'],
  ])('%j is a %s', (message, kind) => {
    expect(classify(message)).toBe(kind);
  });

  it.each([[null], [[]], [{ jsonrpc: '2.0', id: null, method: 'ping' }], [{ jsonrpc: '2.0', id: 1.5, method: 'ping' }], [{ jsonrpc: '2.0', id: 1, method: 'ping', params: 'x' }]])(
    'refuses %j with a reason',
    (message) => {
      expect(['request', 'notification', 'response']).not.toContain(classify(message));
    },
  );
});

describe('trailingId', () => {
  it.each([
    ['{"result":{},"jsonrpc":"2.0","id":42}'],
    ['{"result":{"content":[{"type":"text","text":"Echo: ,\\"id\\":7}"}]},"jsonrpc":"2.0","id":3}'],
    ['{"error":{"code":-32601,"message":"x"},"jsonrpc":"2.0","id":0}'],
  ])('finds the top-level id of %s', (text) => {
    const found = trailingId(text);
    expect(found?.[0]).toBe(JSON.parse(text).id);
    expect(text.slice(found![1])).toBe(`,"id":${JSON.parse(text).id}}`);
  });

  it.each([
    ['{"result":{"x":{"y":1,"id":7}}}'],
    ['{"result":"a,\\"id\\":7}"}'],
    ['{"result":{},"id":"7"}'],
    ['{"result":{},"id":-7}'],
    ['{"result":{},"id":}'],
    ['{"result":{},"id":12345678901234567}'],
    ['{"result":{},"id":7} '],
  ])('finds no top-level integer id at the end of %s', (text) => {
    expect(trailingId(text)).toBeUndefined();
  });
});

describe('negotiateVersion', () => {
  it.each([
    ['2025-06-18', '2025-11-25', '2025-06-18'],
    ['2024-11-05', '2025-11-25', '2024-11-05'],
    ['2099-01-01', '2025-11-25', '2025-11-25'],
    ['2025-11-25', '2025-03-26', '2025-03-26'],
    [undefined, '2025-06-18', '2025-06-18'],
  ])('client %s with a backend at %s gets %s', (requested, backend, expected) => {
    expect(negotiateVersion(requested, backend)).toBe(expected);
  });

  it('allows batches up to 2025-03-26 only', () => {
    expect([allowsBatches('2024-11-05'), allowsBatches('2025-03-26'), allowsBatches('2025-06-18'), allowsBatches('2025-11-25')]).toEqual([true, true, false, false]);
  });
});

describe('createRequestGuard', () => {
  const request = (host: string | undefined, origin?: string) => ({ headers: { host, origin } }) as unknown as IncomingMessage;
  const guard = createRequestGuard(['localhost', '127.0.0.1:8080', '*.svc.cluster.local', '[::1]'], ['https://app.example']);

  it.each([['localhost'], ['localhost:9999'], ['127.0.0.1:8080'], ['fetch.mcp.svc.cluster.local:8080'], ['[::1]:8080'], ['LOCALHOST']])('allows Host %s', (host) => {
    expect(guard(request(host))).toBeUndefined();
  });

  it.each([['127.0.0.1:9999'], ['svc.cluster.local'], ['evil.example'], [undefined], ['localhost.evil.example']])('refuses Host %s', (host) => {
    expect(guard(request(host))).toMatch(/Host .* is not allowed/);
  });

  it('allows listed origins and requests without Origin, refuses others', () => {
    expect(guard(request('localhost', 'https://app.example'))).toBeUndefined();
    expect(guard(request('localhost', 'https://evil.example'))).toMatch(/Origin "https:\/\/evil.example" is not allowed/);
  });

  it('also allows the proxy’s own addresses (its pod IP) when given', () => {
    const withOwn = createRequestGuard(['localhost'], [], ['10.244.1.7', '[fd00::7]']);
    expect(withOwn(request('10.244.1.7:8080'))).toBeUndefined();
    expect(withOwn(request('[fd00::7]:8080'))).toBeUndefined();
    expect(withOwn(request('10.244.1.8:8080'))).toMatch(/not allowed/);
  });

  it('allows any host when the list is empty', () => {
    expect(createRequestGuard([], [])(request('anything:1'))).toBeUndefined();
  });
});

describe('restartReasonLabel', () => {
  it.each([
    ['child exited with code 1', 'crash'],
    ['child exited with code 0', 'exit'],
    ['child killed by signal SIGKILL', 'signal'],
    ['failed to start "x": spawn x ENOENT', 'start_failed'],
    ['container mcp restarted (restartCount 3)', 'container_restart'],
    ['container mcp terminated (exit code 137, Error)', 'container_restart'],
    ['container mcp is waiting (CrashLoopBackOff, restartCount 4)', 'container_restart'],
    ['pod fetch-0 replaced', 'pod_replaced'],
    ['attach connection closed', 'connection_lost'],
    ['no traffic for 30000 ms and no reply to an MCP or WebSocket ping within 10000 ms: the attach connection is presumed dead, or the server stopped reading its stdin (4096 bytes for it were waiting)', 'stdin_stalled'],
    ['something else', 'other'],
  ])('maps "%s" to %s', (reason, label) => {
    expect(restartReasonLabel(reason)).toBe(label);
  });
});

describe('HeldForProcess', () => {
  const setup = (maxChars: number): { held: HeldForProcess; logs: Record<string, unknown>[] } => {
    const logs: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => { logs.push(JSON.parse(line) as Record<string, unknown>); } });
    return { held: new HeldForProcess(logger, maxChars), logs };
  };

  it('drops the oldest past its bound, with one warning per outage', () => {
    const { held, logs } = setup(10);
    for (const text of ['aaaa', 'bbbb', 'cccc', 'dddd']) held.hold(text);
    expect(held.size).toBe(2);
    const sent: string[] = [];
    expect(held.flush((text) => { sent.push(text); return true; })).toBe(2);
    expect(sent).toEqual(['cccc', 'dddd']);
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(logs.find((l) => l.msg === 'messages held for the server sent to it')).toMatchObject({ messages: 2, droppedForBound: 2 });
    // A later outage warns again.
    for (const text of ['aaaa', 'bbbb', 'cccc']) held.hold(text);
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(2);
  });

  it('keeps what a send refuses, in order, and runs each callback once its message went', () => {
    const { held } = setup(1_000);
    const went: string[] = [];
    for (const text of ['1', '2', '3']) held.hold(text, () => went.push(text));
    let open = 1;
    expect(held.flush(() => open-- > 0)).toBe(1);
    expect(went).toEqual(['1']);
    expect(held.size).toBe(2);
    const sent: string[] = [];
    held.flush((text) => { sent.push(text); return true; });
    expect(sent).toEqual(['2', '3']);
    expect(went).toEqual(['1', '2', '3']);
    expect(held.size).toBe(0);
  });

  it('discards everything for a replaced process', () => {
    const { held, logs } = setup(1_000);
    held.hold('x', () => { throw new Error('must not run'); });
    held.discard();
    expect(held.size).toBe(0);
    expect(held.flush(() => true)).toBe(0);
    expect(logs.find((l) => l.msg === 'messages held for a server process that was replaced: discarded')).toMatchObject({ messages: 1 });
  });
});
