/**
 * Small real processes to stand in a container where server-everything's behaviour would get in
 * the way of a precise assertion (what exactly reached stdin, when exactly output is written).
 */
import type { KubeApiEmulatorOptions } from '../support/kube-api-emulator/index.ts';

/**
 * Echoes every stdin line back on stdout after `delayMs`, and reports each line's length on
 * stderr (so tests can tell stderr never reaches the JSON stream).
 */
export function lineEcho(delayMs = 0): NonNullable<KubeApiEmulatorOptions['command']> {
  const script = `
    let tail = '';
    process.stdin.on('data', (chunk) => {
      const lines = (tail + chunk).split('\\n');
      tail = lines.pop();
      for (const line of lines) {
        process.stderr.write('stderr: line of ' + line.length + ' chars\\n');
        setTimeout(() => process.stdout.write(line + '\\n'), ${delayMs});
      }
    });`;
  return { command: process.execPath, args: ['-e', script] };
}

/**
 * A minimal MCP server that answers its first `initialize` with an error (a server still warming
 * up) and later ones with a result; any other request gets a result naming whether the process
 * had been initialized by then.
 */
export function refusesFirstInitialize(): NonNullable<KubeApiEmulatorOptions['command']> {
  const script = `
    let initializeCalls = 0, initialized = false;
    const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      let m; try { m = JSON.parse(line); } catch { return; }
      if (m.method === 'initialize') {
        initializeCalls += 1;
        if (initializeCalls === 1) return out({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: 'warming up' } });
        initialized = true;
        return out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'slow-start', version: '1' } } });
      }
      if (m.id !== undefined && m.method) out({ jsonrpc: '2.0', id: m.id, result: { initialized, initializeCalls } });
    });`;
  return { command: process.execPath, args: ['-e', script] };
}

/**
 * A minimal MCP server whose `later` tool asks the client to sample, without a progress token,
 * `askAfterMs` after the call (the prompt names the call's id), and whose `slow` tool answers after
 * `slowMs`: for what happens to a server request about work whose caller the proxy has let go.
 */
export function asksLater(askAfterMs: number, slowMs: number): NonNullable<KubeApiEmulatorOptions['command']> {
  const script = `
    let next = 1;
    const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      let m; try { m = JSON.parse(line); } catch { return; }
      if (m.method === 'initialize') return out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'asks-later', version: '1' } } });
      if (m.method === 'tools/call' && m.params.name === 'later') {
        return setTimeout(() => out({ jsonrpc: '2.0', id: 'ask-' + next++, method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'about call ' + m.id } }], maxTokens: 5 } }), ${askAfterMs});
      }
      if (m.method === 'tools/call' && m.params.name === 'slow') return setTimeout(() => out({ jsonrpc: '2.0', id: m.id, result: { content: [] } }), ${slowMs});
      if (m.id !== undefined && m.method) out({ jsonrpc: '2.0', id: m.id, result: m.method === 'tools/list' ? { tools: [] } : {} });
    });`;
  return { command: process.execPath, args: ['-e', script] };
}

/**
 * A minimal MCP server that subscribes to resources and reports every message it receives on
 * stderr (`got <method> <uri>`; an answer as `got answer <id> <text or error message>`), which the
 * proxy logs: for what reaches a live process. Its tool `hang` never answers; `ask` answers at
 * once, then asks the client to sample (id `question-<n>`, no progress token).
 */
export function reportsMethods(): NonNullable<KubeApiEmulatorOptions['command']> {
  const script = `
    let questions = 0;
    const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      let m; try { m = JSON.parse(line); } catch { return; }
      if (m.method) process.stderr.write('got ' + m.method + ' ' + (m.params?.uri ?? '') + '\\n');
      else process.stderr.write('got answer ' + m.id + ' ' + (m.result?.content?.text ?? m.error?.message) + '\\n');
      if (m.method === 'initialize') return out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { resources: { subscribe: true }, tools: {} }, serverInfo: { name: 'reports', version: '1' } } });
      if (m.method === 'tools/call' && m.params.name === 'hang') return;
      if (m.method === 'tools/call' && m.params.name === 'ask') {
        out({ jsonrpc: '2.0', id: m.id, result: { content: [] } });
        return out({ jsonrpc: '2.0', id: 'question-' + ++questions, method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'a question' } }], maxTokens: 5 } });
      }
      if (m.id !== undefined && m.method) out({ jsonrpc: '2.0', id: m.id, result: m.method === 'tools/list' ? { tools: [] } : {} });
    });`;
  return { command: process.execPath, args: ['-e', script] };
}
