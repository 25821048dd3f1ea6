/** Options of the HTTP transports. */
export interface McpHttpTransportOptions {
  /** Port the MCP server listens on inside its pod. */
  readonly port: number;
  /**
   * Path of the MCP endpoint on that port.
   * @default "/mcp" for Streamable HTTP, "/sse" for SSE
   */
  readonly path?: string;
}

/** How the MCP server speaks MCP: over its stdin/stdout, or over HTTP on a port. */
export class McpTransport {
  /** The server reads JSON-RPC on stdin and writes to stdout; the proxy reaches it via `pods/attach`. */
  public static stdio(): McpTransport {
    return new McpTransport('stdio', undefined, undefined);
  }

  /** The server serves MCP Streamable HTTP on `port` at `path`. */
  public static streamableHttp(options: McpHttpTransportOptions): McpTransport {
    return new McpTransport('streamable-http', options.port, options.path ?? '/mcp');
  }

  /** The server serves the legacy HTTP+SSE transport on `port`, its event stream at `path`. */
  public static sse(options: McpHttpTransportOptions): McpTransport {
    return new McpTransport('sse', options.port, options.path ?? '/sse');
  }

  private constructor(
    /** `stdio`, `streamable-http` or `sse`: the names the proxy configuration uses. */
    public readonly name: 'stdio' | 'streamable-http' | 'sse',
    /** The server's port; undefined for stdio. */
    public readonly port: number | undefined,
    /** The server's MCP endpoint path; undefined for stdio. */
    public readonly path: string | undefined,
  ) {}

  /** True for the transports that listen on a port. */
  public get isHttp(): boolean {
    return this.name !== 'stdio';
  }
}
