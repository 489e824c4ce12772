import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

// A small client of Docker's Engine API (and Podman's Docker-compatible one): JSON over HTTP on the
// daemon's unix socket or TCP address, and its streams (events, pull progress) as they come.
// Why not dockerode: it loads docker-modem with ssh2 and a BuildKit session (grpc-js, protobufjs) that
// enginepool never uses, ~28 MB of the controller's resident memory; the dozen calls the runtimes make
// are plain requests.

/** Where the daemon answers: a unix socket, or an HTTP(S) address. */
export type EngineApiAddress =
  | { readonly socketPath: string }
  | { readonly protocol: 'http' | 'https'; readonly host: string; readonly port: number };

/** Where a DOCKER_HOST value (unix://, tcp://, http(s)://, a socket path, or undefined) points. */
export function engineApiAddress(dockerHost: string | undefined): EngineApiAddress {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  if (dockerHost.startsWith('/')) return { socketPath: dockerHost };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  const secure = url.protocol === 'https:';
  return {
    protocol: secure ? 'https' : 'http',
    host: url.hostname,
    port: Number(url.port || (secure ? 2376 : 2375)),
  };
}

/** A path segment: an id, a name or an image reference (the daemon decodes it). */
export const segment = encodeURIComponent;

/** The unix socket a DOCKER_HOST value names, if it names one. */
export function socketPathOf(dockerHost: string | undefined): string | undefined {
  const address = engineApiAddress(dockerHost);
  return 'socketPath' in address ? address.socketPath : undefined;
}

/** A failed call: the daemon's status and message, or the socket's error code when it did not answer. */
export class EngineApiError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'EngineApiError';
  }
}

/** Query values as the Engine API reads them: objects (filters) as JSON, the rest as text. */
export type Query = Readonly<Record<string, string | number | boolean | object | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

export interface EngineApi {
  /** One call; its JSON answer (undefined when the daemon sends none, the text when it is not JSON). */
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** A call whose answer streams (events, pull progress); resolves once the daemon accepted it. */
  stream(method: string, path: string, options?: RequestOptions): Promise<IncomingMessage>;
}

/**
 * A client of the daemon at `address`. `timeoutMs` bounds a request's silence (no byte either way for
 * that long fails it); streams have none: events can be quiet for hours.
 */
export function createEngineApi(address: EngineApiAddress, timeoutMs: number): EngineApi {
  function send(method: string, path: string, options: RequestOptions, timeout: number | undefined) {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const body = options.body === undefined ? undefined : JSON.stringify(options.body);
      const target = 'socketPath' in address ? address : { host: address.host, port: address.port };
      const request = ('protocol' in address && address.protocol === 'https' ? https : http).request({
        ...target,
        method,
        path: path + queryString(options.query),
        headers: {
          // Why: the daemon routes unversioned paths to its own API version, as the docker CLI's do
          // after negotiation; `Host` must be a valid name even over a unix socket.
          Host: 'docker',
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (timeout !== undefined) {
        request.setTimeout(timeout, () =>
          request.destroy(
            new EngineApiError(`${method} ${path}: no answer within ${timeout} ms`, undefined, 'ETIMEDOUT'),
          ),
        );
      }
      request.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error instanceof EngineApiError ? error : new EngineApiError(error.message, undefined, error.code),
        ),
      );
      request.once('response', (response) => {
        const status = response.statusCode ?? 0;
        if (status < 400) return resolve(response);
        readText(response).then(
          (text) => reject(new EngineApiError(daemonMessage(text) || `HTTP ${status}`, status)),
          reject,
        );
      });
      request.end(body);
    });
  }

  return {
    async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
      const response = await send(method, path, options, timeoutMs);
      const text = await readText(response);
      if (text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        return text as T;
      }
    },
    stream: (method, path, options = {}) => send(method, path, options, undefined),
  };
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    params.set(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.once('error', reject);
  });
}

/** The daemon's `{"message": ...}`, or its text when it sent no JSON. */
function daemonMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the text is the message.
  }
  return text.trim();
}

/** Splits a newline-delimited JSON stream (chunks do not align with lines) into its objects, as sent. */
export async function* jsonLines<T>(stream: AsyncIterable<Buffer | string>): AsyncIterable<T> {
  // Why: a chunk can end inside a multi-byte character; the decoder keeps its first bytes for the next.
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of stream) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) {
        try {
          yield JSON.parse(line) as T;
        } catch {
          // A torn or foreign line carries nothing we can use; the periodic resync covers it.
        }
      }
      newline = buffer.indexOf('\n');
    }
  }
}
