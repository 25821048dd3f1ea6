/**
 * The MCP server process dies mid-request: every request in flight gets a JSON-RPC error naming the
 * cause at once (no hang), readiness goes false, the backend comes back (re-initialized) and the
 * same client sessions work again without reconnecting.
 */
import { describe, expect, it } from '@jest/globals';
import { backends } from '../support/backends.ts';
import { raw, rawPost, rawSession, waitFor, useTestProxy } from '../support/proxy-harness.ts';

describe.each(backends)('server crash under the $name backend', (fixture) => {
  const proxy = useTestProxy(fixture, { limits: { backendWaitMs: 15_000 } });

  it('fails every request in flight with the cause, then serves the same sessions again', async () => {
    const sessions = await Promise.all(Array.from({ length: 10 }, () => rawSession(proxy.mcpUrl)));
    const inFlight = sessions.flatMap((session, i) =>
      Array.from({ length: 5 }, (_, j) =>
        rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: `${i}-${j}`, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 1 } } }),
      ),
    );
    await waitFor(() => proxy.proxy.mux!.inFlight === 50, 10_000, '50 requests in flight');

    const killedAt = Date.now();
    await proxy.backend.crash(proxy.proxy);
    const replies = await Promise.all(inFlight);
    const failedWithin = Date.now() - killedAt;

    expect(failedWithin).toBeLessThan(5_000);
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.json().error).toMatchObject({ code: -32000, message: expect.stringMatching(/backend unavailable: .*(signal|exit|killed|restart|lost)/i) });
    }
    expect(new Set(replies.map((reply) => reply.json().id)).size).toBe(50);

    // Recovery: readiness returns, and the sessions opened before the crash still work.
    await waitFor(async () => (await raw(`${proxy.proxy.url}/readyz`)).status === 200, 15_000, 'ready again');
    const after = await Promise.all(
      sessions.map((session, i) => rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: `after-${i}` } } })),
    );
    after.forEach((reply, i) => expect(reply.json().result.content[0].text).toBe(`Echo: after-${i}`));
    expect(proxy.proxy.mux!.inFlight).toBe(0);
    // One restart, counted once, under the cause (a killed container, not a lost connection).
    expect(await restartsByReason()).toEqual({ [proxy.backend.crashReason!]: 1 });
  });

  it('reports not ready while the backend is down and lets new requests wait for recovery', async () => {
    const session = await rawSession(proxy.mcpUrl);
    await proxy.backend.crash(proxy.proxy);
    await waitFor(() => !proxy.proxy.ready(), 5_000, 'not ready');
    const readyz = await raw(`${proxy.proxy.url}/readyz`);
    expect([200, 503]).toContain(readyz.status); // it may already have recovered: restarts are fast
    const reply = await rawPost(proxy.mcpUrl, session, { jsonrpc: '2.0', id: 'w', method: 'tools/call', params: { name: 'echo', arguments: { message: 'waited' } } });
    expect(reply.json().result.content[0].text).toBe('Echo: waited');
    expect(await restartsByReason()).toEqual({ [proxy.backend.crashReason!]: 2 });
  });

  /** `toolhive_mcp_backend_restarts_total` by its `reason` label, from the proxy's registry. */
  async function restartsByReason(): Promise<Record<string, number>> {
    const text = await proxy.proxy.telemetry.prometheus.registry.metrics();
    const counts: Record<string, number> = {};
    for (const [, reason, value] of text.matchAll(/^toolhive_mcp_backend_restarts_total\{[^}]*reason="([a-z_]+)"[^}]*\} (\d+)$/gm)) {
      counts[reason!] = Number(value);
    }
    return counts;
  }
});
