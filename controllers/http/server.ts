import { createHash, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Logger } from '../observability/logger.js';

// The HTTP server: a small router, JSON in and out, a body size limit, and bearer auth on mutating
// routes compared in constant time. Errors are `{"error": {"code", "message"}}`. Routes live in
// api.ts (native) and compat.ts (acestream-orchestrator's routes).

/** What a route answers. */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  /** A non-JSON body (metrics, the status page; bytes when compressed). */
  readonly text?: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  /** A body written over time (server-sent events): called with the response once headers are sent. */
  readonly stream?: (res: ServerResponse) => void;
}

/** A request as a route sees it. */
export interface RequestContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body, or undefined when there is none. */
  readonly body: unknown;
  readonly headers: IncomingHttpHeaders;
}

/** One route. `mutating` routes need the bearer token; `sensitive` reads need it or the read token. */
export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** A path with `:name` segments, e.g. `/api/v1/pools/:pool`. */
  readonly path: string;
  readonly mutating?: boolean;
  /** A read that shows stream keys, session URLs or the VPN's address. */
  readonly sensitive?: boolean;
  /**
   * Routes of acestream-orchestrator: their error bodies also carry its `detail` (the message), which
   * proxies built against it read, whichever step refused the request (auth, body, the handler).
   */
  readonly peerErrors?: boolean;
  readonly handle: (ctx: RequestContext) => Reply | Promise<Reply>;
}

/** An error a route throws to answer with a status and a JSON error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

/** Options of {@link createHttpServer}. */
export interface HttpOptions {
  readonly routes: readonly Route[];
  /** ENGINEPOOL_API_TOKEN; without one, mutating routes answer 403. */
  readonly token?: string;
  /** ENGINEPOOL_API_READ_TOKEN: opens sensitive reads, never changes. */
  readonly readToken?: string;
  readonly logger: Logger;
  /** Largest accepted request body, in bytes. */
  readonly bodyLimit?: number;
  readonly limits?: Partial<ServerLimits>;
  /** For the rate limit of failed-auth logs; Date.now by default. */
  readonly now?: () => number;
  /** Told of every answered request: the route's path pattern (`unmatched` when none), the status. */
  readonly observe?: (route: string, method: string, status: number, seconds: number) => void;
}

/** What one client may hold of the server: time to send headers and a request, connections. */
export interface ServerLimits {
  /** Time to receive the request headers (slowloris). */
  readonly headersTimeoutMs: number;
  /** Time to receive the whole request, body included. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Requests served on one keep-alive connection before it is closed. */
  readonly maxRequestsPerSocket: number;
  /** Open connections; more are refused at once (the file descriptors stay for the rest). */
  readonly maxConnections: number;
}

/** The defaults: generous for proxies on a LAN, far below Node's (300 s requests, no connection cap). */
export const DEFAULT_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
  maxConnections: 512,
};

/** A JSON error reply. */
export function errorReply(
  status: number,
  code: string,
  message: string,
  extra?: Readonly<Record<string, unknown>>,
): Reply {
  return { status, body: { error: { code, message, ...extra } } };
}

/** An error reply with acestream-orchestrator's `detail` added (a detail the route gave is kept). */
export function withPeerDetail(reply: Reply): Reply {
  const body = reply.body as { detail?: unknown; error?: { message?: string } } | undefined;
  if (reply.status < 400 || !body || body.detail !== undefined) return reply;
  return { ...reply, body: { detail: body.error?.message ?? 'error', ...body } };
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Checks a request's bearer token against the accepted ones; returns an error reply, or undefined when
 * it may pass. `what` names what is refused when no token is configured at all.
 */
export function authorize(
  header: string | undefined,
  accepted: readonly (string | undefined)[],
  what: 'changes' | 'reads of streams and the VPN' = 'changes',
): Reply | undefined {
  const tokens = accepted.filter((token): token is string => !!token);
  if (tokens.length === 0) {
    return errorReply(
      403,
      'forbidden',
      `${what} through the API are disabled: start the controller with ENGINEPOOL_API_TOKEN set, and send "Authorization: Bearer <token>"`,
    );
  }
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  // Why: hashing both sides gives equal lengths, so the comparison time says nothing about the token;
  // every accepted token is compared, so the time does not say which one matched either.
  const sent = match ? digest(match[1]!.trim()) : undefined;
  const matches = tokens.map((token) => (sent ? timingSafeEqual(sent, digest(token)) : false));
  if (!matches.includes(true)) {
    return {
      ...errorReply(401, 'unauthorized', 'a valid "Authorization: Bearer <token>" header is required'),
      headers: { 'WWW-Authenticate': 'Bearer realm="enginepool"' },
    };
  }
  return undefined;
}

interface CompiledRoute extends Route {
  readonly regex: RegExp;
  readonly names: readonly string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { ...route, regex: new RegExp(`^${source}/?$`), names };
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    throw new ApiError(413, 'payload_too_large', `the body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError(413, 'payload_too_large', `the body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...reply.headers };
  if (reply.stream) {
    res.writeHead(reply.status, headers);
    res.flushHeaders();
    reply.stream(res);
    return;
  }
  let payload: string | Buffer = '';
  if (reply.text !== undefined) payload = reply.text;
  else if (reply.body !== undefined) {
    payload = `${JSON.stringify(reply.body)}\n`;
    headers['Content-Type'] ??= 'application/json; charset=utf-8';
  }
  headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** The server; call `listen` on it. */
export function createHttpServer(options: HttpOptions): Server {
  const routes = options.routes.map(compile);
  const limit = options.bodyLimit ?? 64 * 1024;
  // Why `matched`: metrics label requests by the route's pattern, a closed set, never the raw path.
  const handle = async (
    req: IncomingMessage,
    matched: { route: string; peerErrors?: boolean },
  ): Promise<Reply> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Why: routes match the raw segments and parameters are decoded after, so a stream id holding an
    // encoded "/" (%2F) stays one segment and its DELETE route finds it.
    const path = url.pathname;
    const candidates = routes.filter((r) => r.regex.test(path));
    if (candidates.length === 0) return errorReply(404, 'not_found', `no route ${url.pathname}`);
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      matched.route = candidates[0]!.path;
      return {
        ...errorReply(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`),
        headers: { Allow: [...new Set(candidates.map((r) => r.method))].join(', ') },
      };
    }
    matched.route = route.path;
    matched.peerErrors = route.peerErrors;
    const denied = route.mutating
      ? authorize(req.headers.authorization, [options.token])
      : route.sensitive
        ? authorize(
            req.headers.authorization,
            [options.token, options.readToken],
            'reads of streams and the VPN',
          )
        : undefined;
    if (denied) {
      failedAuth(req);
      return denied;
    }
    const match = route.regex.exec(path)!;
    let params: Record<string, string>;
    try {
      params = Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
    } catch {
      return errorReply(400, 'bad_request', 'the path is not valid percent-encoding');
    }
    let body: unknown;
    if (req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE') {
      const text = await readBody(req, limit);
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          return errorReply(400, 'invalid_json', 'the body is not valid JSON');
        }
      }
    }
    return await route.handle({ params, query: url.searchParams, body, headers: req.headers });
  };
  const failedAuth = failedAuthLog(options.logger, options.now ?? Date.now);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Why: Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (req, res) => {
      const started = performance.now();
      const matched: { route: string; peerErrors?: boolean } = { route: 'unmatched' };
      handle(req, matched)
        .catch((error: unknown): Reply => {
          if (error instanceof ApiError && error.status === 413) {
            // Why: the rest of an oversized body is never read; closing the connection stops the client
            // from sending it, where keep-alive would make the server drain it first.
            return { ...errorReply(413, error.code, error.message), headers: { Connection: 'close' } };
          }
          if (error instanceof ApiError)
            return errorReply(error.status, error.code, error.message, error.extra);
          options.logger.error(
            { err: (error as Error).message, method: req.method, url: req.url?.split('?')[0] },
            'request failed',
          );
          return errorReply(500, 'internal', 'internal error; see the controller log');
        })
        .then((answer) => {
          const reply = matched.peerErrors ? withPeerDetail(answer) : answer;
          send(res, reply);
          options.observe?.(
            matched.route,
            req.method ?? 'GET',
            reply.status,
            (performance.now() - started) / 1000,
          );
          options.logger.debug(
            {
              method: req.method,
              url: req.url?.split('?')[0],
              status: reply.status,
              ms: Math.round(performance.now() - started),
            },
            'request',
          );
        });
    },
  );
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.maxConnections = limits.maxConnections;
  return server;
}

/**
 * Logs refused credentials at info, at most once per minute with the count since the last line, so a
 * scan is visible without flooding the log. The token sent is never logged.
 */
function failedAuthLog(logger: Logger, now: () => number): (req: IncomingMessage) => void {
  let suppressed = 0;
  let last = Number.NEGATIVE_INFINITY;
  return (req) => {
    if (now() - last < 60_000) {
      suppressed++;
      return;
    }
    logger.info(
      {
        method: req.method,
        url: req.url?.split('?')[0],
        remote: req.socket.remoteAddress,
        withHeader: req.headers.authorization !== undefined,
        suppressed,
      },
      'refused a request without a valid token',
    );
    last = now();
    suppressed = 0;
  };
}
