/**
 * A minimal stdio MCP server that records every line it receives (one JSON line per message, in the
 * file named by argv[2]), for tests that must see exactly what reached the backend: what the proxy
 * answered itself, cancellations, ids. Run with `node recording-server.ts <log-file>`.
 *
 * Tools: `echo` (answers at once), `hang` (never answers), `wait` (answers after `arguments.ms`,
 * cancelled or not), `ask` (sends `sampling/createMessage` carrying the call's `progressToken` in
 * `_meta`, then answers with the sampled text), `answerThenAsk` (answers at once, then after
 * `arguments.ms` asks for sampling with the ended call's progress token, as a confused server might),
 * `askWithToken` (like `ask`, with `arguments.token` as the progress token: one of the server's own),
 * `askRoots` (sends `roots/list`, then answers with the roots it got), `write` (writes
 * `arguments.line` to stdout as it is, then answers).
 */
import { appendFileSync } from 'node:fs';

const log = process.argv[2];
let buffer = '';
let nextId = 1;
const waiting = new Map<number, (result: any) => void>();

const send = (message: unknown): void => {
  process.stdout.write(JSON.stringify(message) + '\n');
};

const handle = (message: any): void => {
  if (message.method === undefined) {
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
    return;
  }
  if (message.id === undefined) return;
  switch (message.method) {
    case 'initialize':
      return send({ jsonrpc: '2.0', id: message.id, result: { protocolVersion: message.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'recorder', version: '1' } } });
    case 'tools/list':
      return send({ jsonrpc: '2.0', id: message.id, result: { tools: ['echo', 'hang', 'wait', 'ask', 'askWithToken', 'answerThenAsk', 'askRoots', 'write'].map((name) => ({ name, inputSchema: { type: 'object' } })) } });
    case 'tools/call': {
      const name = message.params?.name;
      if (name === 'hang') return;
      if (name === 'write') process.stdout.write(String(message.params?.arguments?.line) + '\n');
      if (name === 'answerThenAsk') {
        send({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'answered' }] } });
        setTimeout(() => send({
          jsonrpc: '2.0', id: nextId++, method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'about an ended call' } }], maxTokens: 5, _meta: { progressToken: message.params?._meta?.progressToken } },
        }), Number(message.params?.arguments?.ms ?? 0));
        return;
      }
      if (name === 'wait') {
        setTimeout(() => send({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'waited' }] } }), Number(message.params?.arguments?.ms ?? 0));
        return;
      }
      if (name === 'askRoots') {
        const id = nextId++;
        waiting.set(id, (answer) => send({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: JSON.stringify(answer.result?.roots ?? answer.error) }] } }));
        return send({ jsonrpc: '2.0', id, method: 'roots/list', params: {} });
      }
      if (name === 'ask' || name === 'askWithToken') {
        const token = name === 'ask' ? message.params?._meta?.progressToken : message.params?.arguments?.token;
        const id = nextId++;
        waiting.set(id, (answer) => send({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: answer.result?.content?.text ?? JSON.stringify(answer.error) }] } }));
        return send({
          jsonrpc: '2.0', id, method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'which client are you?' } }], maxTokens: 5, _meta: { progressToken: token } },
        });
      }
      return send({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: `echo: ${JSON.stringify(message.params?.arguments ?? {})}` }] } });
    }
    default:
      return send({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: `no method ${message.method}` } });
  }
};

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffer += chunk;
  let newline = buffer.indexOf('\n');
  while (newline !== -1) {
    const line = buffer.slice(0, newline);
    buffer = buffer.slice(newline + 1);
    if (line.trim()) {
      appendFileSync(log, line + '\n');
      handle(JSON.parse(line));
    }
    newline = buffer.indexOf('\n');
  }
});
