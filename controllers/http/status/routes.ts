import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { Clock } from '../../../state/clock.js';
import type { SpecState } from '../../config/specSource.js';
import type { ReadModel } from '../../loop/readModel.js';
import { errorReply, type Reply, type Route } from '../server.js';
import type { StatusHub } from './hub.js';
import { renderLive, renderPage } from './page.js';
import { type StatusSnapshot, statusSnapshot } from './snapshot.js';

// The status page's routes: the page at `/`, its live part at `/ui/live`, its stylesheet and script
// under `/ui/`, and the read model as JSON (`GET /api/v1/status`) and as server-sent events
// (`GET /api/v1/status/events`). All read-only and open: they show nothing a token protects.

/** What the status routes read. */
export interface StatusDeps {
  readonly view: ReadModel;
  readonly specState: () => SpecState;
  readonly clock: Clock;
  readonly hub: StatusHub;
}

/** The current snapshot of everything the controller knows, as the page shows it. */
export function readSnapshot(view: ReadModel, specState: SpecState, now: number): StatusSnapshot {
  return statusSnapshot({
    now,
    observedAt: view.observedAt(),
    readiness: view.readiness(),
    specState,
    pools: view.poolStatuses().map((status) => ({
      status,
      engines: view.engines(status.name) ?? [],
      actions: view.lastActions(status.name),
      transitions: view.transitions(status.name),
    })),
  });
}

// Why: the page loads nothing from elsewhere and runs no inline code, so a stolen or injected string
// can neither run script nor send data anywhere; `frame-ancestors` keeps it out of other sites' frames.
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** A text reply, gzipped when the client takes it and it is worth it. */
function textReply(
  text: string,
  contentType: string,
  headers: IncomingHttpHeaders,
  extra: Readonly<Record<string, string>> = {},
): Reply {
  const base = { ...PAGE_HEADERS, 'Content-Type': contentType, Vary: 'Accept-Encoding', ...extra };
  if (text.length < 1024 || !/\bgzip\b/.test(String(headers['accept-encoding'] ?? '')))
    return { status: 200, text, headers: base };
  return { status: 200, text: gzipSync(text), headers: { ...base, 'Content-Encoding': 'gzip' } };
}

interface Asset {
  readonly path: string;
  readonly url: string;
  readonly text: string;
  readonly contentType: string;
}

function asset(name: string, contentType: string): Asset {
  // Why: next to this module both in the sources and in dist (the build copies them), so the page
  // needs no bundler and the container image no source tree.
  const file = new URL(`./assets/${name}`, import.meta.url);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `the status page's ${name} is missing (${(error as Error).message}): build with \`npm run build\`, which copies it`,
    );
  }
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { path: `/ui/${name}`, url: `/ui/${name}?v=${hash}`, text, contentType };
}

/** The routes of the status page and the status API. */
export function statusRoutes(deps: StatusDeps): Route[] {
  const { view, clock, hub } = deps;
  const snapshot = () => readSnapshot(view, deps.specState(), clock.now());
  const css = asset('status.css', 'text/css; charset=utf-8');
  const js = asset('status.js', 'text/javascript; charset=utf-8');
  return [
    {
      method: 'GET',
      path: '/',
      handle: ({ headers }) =>
        textReply(renderPage(snapshot(), { css: css.url, js: js.url }), 'text/html; charset=utf-8', headers),
    },
    {
      method: 'GET',
      path: '/ui/live',
      handle: ({ headers }) => textReply(renderLive(snapshot()), 'text/html; charset=utf-8', headers),
    },
    ...[css, js].map(
      (a): Route => ({
        method: 'GET',
        path: a.path,
        handle: ({ headers }) =>
          // Why: the page asks for them with their content hash, so a new version is a new URL.
          textReply(a.text, a.contentType, headers, {
            'Cache-Control': 'public, max-age=31536000, immutable',
          }),
      }),
    ),
    { method: 'GET', path: '/api/v1/status', handle: () => ({ status: 200, body: snapshot() }) },
    {
      method: 'GET',
      path: '/api/v1/status/events',
      handle: (): Reply => {
        const start = hub.open();
        if (!start) {
          return {
            ...errorReply(503, 'too_many_streams', 'too many status streams are open; retry later'),
            headers: { 'Retry-After': '10' },
          };
        }
        return {
          status: 200,
          headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no' },
          stream: start,
        };
      },
    },
  ];
}
