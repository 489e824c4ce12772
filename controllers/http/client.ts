import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

// The one HTTP client of the controller's outgoing calls: engine probes, Gluetun's control server, the
// stream watcher's stat URLs and the CLI's calls to a controller. Every call has a timeout and a cap on
// the body it keeps, never keeps a connection alive, and never rejects: a failure is a result.

/** The answer of {@link httpGet}: the status and up to `maxBytes` of the body, or why there was none. */
export type HttpGetResult =
  | { readonly ok: true; readonly status: number; readonly body: string }
  | { readonly ok: false; readonly error: string };

/** Options of {@link httpGet}. */
export interface HttpGetOptions {
  readonly timeoutMs: number;
  /** How much of the body is kept (the rest is read and dropped); 0 or absent: the body is discarded. */
  readonly maxBytes?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** GETs a URL without keep-alive; never rejects. */
export function httpGet(url: string, options: HttpGetOptions): Promise<HttpGetResult> {
  const { timeoutMs, maxBytes = 0, headers = {} } = options;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: HttpGetResult) => {
      if (!settled) {
        settled = true;
        resolve(result);
      }
    };
    let req: ReturnType<typeof httpRequest>;
    try {
      const request = url.startsWith('https:') ? httpsRequest : httpRequest;
      req = request(url, { method: 'GET', agent: false, timeout: timeoutMs, headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (maxBytes === 0) {
          res.resume();
          return finish({ ok: true, status, body: '' });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < maxBytes) chunks.push(chunk.subarray(0, maxBytes - size));
          size += chunk.length;
        });
        res.on('end', () => finish({ ok: true, status, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error: NodeJS.ErrnoException) =>
          finish({ ok: false, error: error.code ?? error.message }),
        );
      });
    } catch (error) {
      return finish({ ok: false, error: (error as Error).message });
    }
    req.on('timeout', () => {
      req.destroy();
      finish({ ok: false, error: `no answer within ${timeoutMs} ms` });
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ ok: false, error: error.code ?? error.message }),
    );
    req.end();
  });
}

/** GETs a URL; resolves ok on a 2xx answer within the timeout, otherwise an error text. */
export async function httpProbe(
  url: string,
  timeoutMs: number,
  get: typeof httpGet = httpGet,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const result = await get(url, { timeoutMs });
  if (!result.ok) return result;
  return result.status >= 200 && result.status < 300
    ? { ok: true }
    : { ok: false, error: `HTTP ${result.status}` };
}
