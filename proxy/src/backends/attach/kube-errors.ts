/**
 * Turns Kubernetes API failures into one sentence for logs and for `down` reasons. A 403 names
 * the exact permission the proxy's ServiceAccount lacks (verb, resource/subresource, namespace,
 * name): an operator fixes RBAC from the log line alone.
 */

/** The request that failed, as the authorizer sees it. */
export interface ApiRequest {
  readonly verb: 'get' | 'list' | 'watch' | 'create';
  readonly resource: 'pods';
  readonly subresource?: 'attach';
  readonly namespace: string;
  readonly name?: string;
  /** e.g. the fieldSelector a watch restricted by resourceNames needs. */
  readonly note?: string;
}

export interface ApiFailure {
  /** HTTP status, when the apiserver answered. */
  readonly code?: number;
  /** `metav1.Status` message, or the transport error. */
  readonly message: string;
  /** For a 403: the missing permission, e.g. `get pods/attach "mcp-0" in namespace "mcp-servers"`. */
  readonly missingPermission?: string;
  /** For a 403: the same, as fields (verb, resource, subresource, namespace, name) for log queries. */
  readonly permission?: ApiRequest;
}

interface StatusBody { message?: unknown; reason?: unknown; code?: unknown }

/** Reads a `metav1.Status` JSON body; anything else yields undefined. */
export function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return undefined;
    }
  }
  return body && typeof body === 'object' && (body as { kind?: unknown }).kind === 'Status' ? (body as StatusBody) : undefined;
}

/**
 * Reads the status channel (3) of an attach session. The kubelet and the API server write it with
 * `json.Marshal(status.Status())`, which leaves `kind` and `apiVersion` out
 * (`{"metadata":{},"status":"Success"}`), so anything with a string `status` is a Status here.
 */
export function parseChannelStatus(text: string): { status: string; message?: string; code?: number } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || typeof (value as { status?: unknown }).status !== 'string') return undefined;
  const { status, message, code } = value as { status: string; message?: unknown; code?: unknown };
  return { status, ...(typeof message === 'string' ? { message } : {}), ...(typeof code === 'number' ? { code } : {}) };
}

export function permissionOf(request: ApiRequest): string {
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  const name = request.name ? ` "${request.name}"` : '';
  const note = request.note ? ` (${request.note})` : '';
  return `${request.verb} ${resource}${name} in namespace "${request.namespace}"${note}`;
}

/**
 * Describes a failure of `request`. `error` is what the library threw: an `ApiException`
 * (`code`, `body`), a watch error (`statusCode`), or a plain Error; `code`/`body` may be given
 * directly for an attach upgrade that got an HTTP answer.
 */
export function describeApiFailure(request: ApiRequest, error: unknown, code?: number, body?: unknown): ApiFailure {
  const e = error as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown; cause?: { message?: unknown } } | undefined;
  const httpCode = code ?? (typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined);
  const status = parseStatus(body ?? e?.body);
  const message = typeof status?.message === 'string' ? status.message
    : typeof e?.message === 'string' && e.message ? withCause(apiExceptionMessage(e.message, e.body), e.cause)
    : httpCode ? `HTTP ${httpCode}` : String(error);
  if (httpCode === 403) {
    // The authorizer names the verb it checked ("cannot create resource ..."): from 1.35 a WebSocket
    // attach, a GET, is authorized as `create` too, so the verb of the request is not always it.
    const named = /\bcannot (get|list|watch|create) resource\b/.exec(message)?.[1] as ApiRequest['verb'] | undefined;
    const permission = named ? { ...request, verb: named } : request;
    const missingPermission = permissionOf(permission);
    return {
      code: 403, message: `403 Forbidden: missing permission ${missingPermission}: ${message}`, missingPermission, permission,
    };
  }
  if (httpCode === 401) return { code: 401, message: `401 Unauthorized: the API server rejected the proxy's credentials: ${message}` };
  return httpCode ? { code: httpCode, message: `${httpCode} ${message}` } : { message };
}

/** How much of a body that is not a `metav1.Status` (a proxy's HTML error page) a message keeps. */
const BODY_EXCERPT_CHARS = 200;

/**
 * The library's `ApiException` message is four lines (`HTTP-Code:`, `Message:`, `Body:` and every
 * response header as JSON); a 401 carries no Status body, so that is all there is. Keeps the
 * `Message:` line and the start of a text body, on one line, without the headers.
 */
function apiExceptionMessage(message: string, body: unknown): string {
  // Anything else on one line too: a credential plugin's error is its stderr, newline and all.
  if (!message.startsWith('HTTP-Code: ')) return message.replace(/\s+/g, ' ').trim();
  const line = /^Message: (.*)$/m.exec(message)?.[1]?.trim() || message.split('\n', 1)[0]!;
  const text = typeof body === 'string' ? body.replace(/\s+/g, ' ').trim() : '';
  if (!text) return line;
  return `${line}: ${text.length > BODY_EXCERPT_CHARS ? `${text.slice(0, BODY_EXCERPT_CHARS)}…` : text}`;
}

/** undici says only "fetch failed"; the reason (refused connection, untrusted certificate) is its cause. */
function withCause(message: string, cause: { message?: unknown } | undefined): string {
  return typeof cause?.message === 'string' && cause.message && !message.includes(cause.message)
    ? `${message}: ${cause.message}`
    : message;
}
