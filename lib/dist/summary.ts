/** The table `npm run synth` prints: how to reach each server that was just synthesized. */
import type { App } from 'cdk8s';
import { McpServer } from '../mcp-server.ts';

export interface ServerSummary {
  readonly server: string;
  readonly namespace: string;
  readonly transport: string;
  /** MCP endpoint of the proxy inside the cluster (Streamable HTTP). */
  readonly inClusterUrl: string;
  readonly portForward: string;
  /** A client configuration (`mcp.json`) using the port-forward. */
  readonly mcpJson: string;
}

export function summarizeServers(app: App): ServerSummary[] {
  const servers = app.node.findAll().filter((c): c is McpServer => c instanceof McpServer && c.proxy !== undefined);
  // One local port per server, so every port-forward can run at the same time.
  return servers.map((s, i) => {
    const localPort = 8080 + i;
    const proxy = s.proxy!;
    return {
      server: s.name,
      namespace: s.namespace,
      transport: s.transport.name,
      inClusterUrl: `${proxy.url}/mcp`,
      portForward: `kubectl -n ${proxy.namespace} port-forward svc/${proxy.name} ${localPort}:8080`,
      mcpJson: JSON.stringify({ mcpServers: { [s.name]: { url: `http://localhost:${localPort}/mcp` } } }),
    };
  });
}

export function formatSummary(rows: readonly ServerSummary[]): string {
  if (rows.length === 0) {
    return 'no MCP servers with a proxy in this app\n';
  }
  const header = ['server', 'transport', 'in-cluster URL'];
  const table = [header, ...rows.map((r) => [`${r.namespace}/${r.server}`, r.transport, r.inClusterUrl])];
  const widths = header.map((_, col) => Math.max(...table.map((row) => row[col]!.length)));
  const line = (row: string[]) => row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd();
  const clients = rows.map((r) => `  ${r.portForward}\n    mcp.json: ${r.mcpJson}`);
  return [line(header), ...table.slice(1).map(line), '', 'from your machine:', ...clients, ''].join('\n');
}
