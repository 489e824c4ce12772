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

/** One route. `mutating` routes need the bearer token. */
export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** A path with `:name` segments, e.g. `/api/v1/pools/:pool`. */
  readonly path: string;
  readonly mutating?: boolean;
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
  readonly logger: Logger;
  /** Largest accepted request body, in bytes. */
  readonly bodyLimit?: number;
}

/** A JSON error reply. */
export function errorReply(
  status: number,
  code: string,
  message: string,
  extra?: Readonly<Record<string, unknown>>,
): Reply {
  return { status, body: { error: { code, message, ...extra } } };
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Checks a request's bearer token; returns an error reply, or undefined when it may pass. */
export function authorize(header: string | undefined, token: string | undefined): Reply | undefined {
  if (!token) {
    return errorReply(
      403,
      'forbidden',
      'changes through the API are disabled: start the controller with ENGINEPOOL_API_TOKEN set, and send "Authorization: Bearer <token>"',
    );
  }
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  // Why: hashing both sides gives equal lengths, so the comparison time says nothing about the token.
  if (!match || !timingSafeEqual(digest(match[1]!.trim()), digest(token))) {
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
  const handle = async (req: IncomingMessage): Promise<Reply> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return errorReply(400, 'bad_request', 'the path is not valid percent-encoding');
    }
    const candidates = routes.filter((r) => r.regex.test(path));
    if (candidates.length === 0) return errorReply(404, 'not_found', `no route ${url.pathname}`);
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      return {
        ...errorReply(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`),
        headers: { Allow: [...new Set(candidates.map((r) => r.method))].join(', ') },
      };
    }
    if (route.mutating) {
      const denied = authorize(req.headers.authorization, options.token);
      if (denied) return denied;
    }
    const match = route.regex.exec(path)!;
    const params = Object.fromEntries(route.names.map((name, i) => [name, match[i + 1]!]));
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
  return createServer((req, res) => {
    const started = performance.now();
    handle(req)
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
      .then((reply) => {
        send(res, reply);
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
  });
}
