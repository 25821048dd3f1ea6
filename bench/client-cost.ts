/**
 * Measures what the generator's HTTP client costs per request, against a trivial server in a child
 * process: the hand-written keep-alive client (bench/http-client.ts) versus `node:http` with a
 * keep-alive agent. Run: `node bench/client-cost.ts [seconds] [concurrency]`.
 * This is the measurement behind choosing the hand-written client; it is not part of `npm run bench`.
 */
import http from 'node:http';
import { HttpConnection } from './http-client.ts';
import { freePort, spawnTarget, waitUntil } from './processes.ts';

const seconds = Number(process.argv[2] ?? 3);
const concurrency = Number(process.argv[3] ?? 20);
const reply = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Echo: x"}]}}';
const body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}';

if (process.argv[2] === 'serve') {
  http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length }).end(reply));
  }).listen(Number(process.argv[3]), '127.0.0.1');
} else {
  const port = await freePort();
  const server = spawnTarget(process.execPath, [new URL(import.meta.url).pathname, 'serve', String(port)], { logFile: '/dev/null' });
  await waitUntil('trivial server', server, async () => {
    const probe = new HttpConnection('127.0.0.1', port);
    try { return (await probe.request('POST', '/', '', body, 1000)).status === 200; } finally { probe.close(); }
  });
  try {
    for (const name of ['hand-written', 'node:http'] as const) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      const connections = Array.from({ length: concurrency }, () => new HttpConnection('127.0.0.1', port));
      const one = name === 'node:http'
        ? () => new Promise<void>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
            res.setEncoding('utf8');
            let text = '';
            res.on('data', (chunk: string) => { text += chunk; });
            res.on('end', () => (text.length > 0 ? resolve() : reject(new Error('empty'))));
          });
          req.on('error', reject);
          req.end(body);
        })
        : (w: number) => connections[w]!.request('POST', '/mcp', '', body, 5000).then(() => undefined);
      let count = 0;
      const cpu = process.cpuUsage();
      const start = performance.now();
      const stopAt = start + seconds * 1000;
      await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
        while (performance.now() < stopAt && count < 10_000_000) { await one(w); count++; }
      }));
      const used = process.cpuUsage(cpu);
      const elapsed = performance.now() - start;
      console.log(`${name.padEnd(12)} ${Math.round(count / (elapsed / 1000))} req/s, ${((used.user + used.system) / count).toFixed(1)} µs generator CPU per request`);
      agent.destroy();
      for (const connection of connections) connection.close();
    }
  } finally {
    await server.stop();
  }
}
