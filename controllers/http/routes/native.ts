import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Controller } from '../../loop/controller.js';
import type { EngineInfo, ReadModel } from '../../loop/readModel.js';
import type { Metrics } from '../../observability/metrics.js';
import type { StreamRegistry } from '../../streams/registry.js';
import { ApiError, errorReply, type Reply, type Route } from '../server.js';

// The native HTTP API (contract §3): health, metrics, pools, engines, streams, acquire, breaker reset.

/** What the routes act on. */
export interface ApiDeps {
  readonly controller: Controller;
  readonly view: ReadModel;
  readonly registry: StreamRegistry;
  readonly metrics: Metrics;
  /** Asks for a reconcile pass now (a stream changed how many engines are free). */
  readonly wake: (reason: string) => void;
  /** Setup problems that do not stop the controller acting, shown by `/readyz` (e.g. no API token). */
  readonly warnings?: readonly string[];
}

const StreamId = z.string().trim().min(1).max(256);

const HttpUrl = z.url({ protocol: /^https?$/ }).max(2048);

// Why: strict objects, so a misspelt field (`statURL`) is an error rather than a stream that is never
// checked for staleness.
const StreamStart = z.strictObject({
  id: StreamId,
  statUrl: HttpUrl.optional(),
  commandUrl: HttpUrl.optional(),
  playbackSessionId: z.string().max(256).optional(),
});

const AcquireBody = z.strictObject({ id: StreamId.optional() }).optional();

/** Parses a body with a schema, or throws a 400 naming what is wrong. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success)
    throw new ApiError(400, 'invalid_body', z.prettifyError(result.error).replace(/\n/g, '; '));
  return result.data;
}

/** The engines of `pool`; 404 for a pool not in the file, 503 for one not observed yet. */
export function poolEngines(view: ReadModel, pool: string): EngineInfo[] {
  const engines = view.engines(pool);
  if (engines) return engines;
  if (view.spec()?.pools.some((p) => p.name === pool)) {
    throw new ApiError(503, 'not_ready', `pool "${pool}" has not been observed yet; retry shortly`, {
      retryAfterSeconds: 1,
    });
  }
  throw new ApiError(404, 'pool_not_found', `no pool "${pool}"`);
}

function engineOf(deps: ApiDeps, pool: string, name: string): EngineInfo {
  const engine = poolEngines(deps.view, pool).find((e) => e.name === name);
  if (!engine) throw new ApiError(404, 'engine_not_found', `no engine "${name}" in pool "${pool}"`);
  return engine;
}

/** Ready engines ranked for a new stream: fewest streams, then the forwarded engine, then the lowest number. */
export function rankForStream(engines: readonly EngineInfo[]): EngineInfo[] {
  const number = (name: string) => Number(/-(\d+)$/.exec(name)?.[1] ?? Number.MAX_SAFE_INTEGER);
  return engines
    .filter((e) => e.state === 'ready')
    .sort(
      (a, b) =>
        a.streams - b.streams || Number(b.forwarded) - Number(a.forwarded) || number(a.name) - number(b.name),
    );
}

/** The native routes. */
export function apiRoutes(deps: ApiDeps): Route[] {
  const { controller, view, registry } = deps;
  const poolOr404 = (pool: string) => {
    poolEngines(view, pool);
    return view.poolStatus(pool)!;
  };
  return [
    { method: 'GET', path: '/livez', handle: () => ({ status: 200, body: { status: 'ok' } }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: () => {
        const { ready, reason } = view.readiness();
        const stateError = deps.registry.writeError();
        const warnings = deps.warnings?.length ? { warnings: deps.warnings } : {};
        if (stateError) return errorReply(503, 'not_ready', stateError, warnings);
        return ready
          ? { status: 200, body: { status: 'ready', ...warnings } }
          : errorReply(503, 'not_ready', reason, warnings);
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handle: async (): Promise<Reply> => {
        const { contentType, body } = await deps.metrics.render();
        return { status: 200, text: body, headers: { 'Content-Type': contentType } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/pools',
      handle: () => ({ status: 200, body: view.poolStatuses() }),
    },
    {
      method: 'GET',
      path: '/api/v1/pools/:pool',
      handle: ({ params }) => ({ status: 200, body: poolOr404(params.pool!) }),
    },
    {
      method: 'GET',
      path: '/api/v1/pools/:pool/engines',
      handle: ({ params }) => ({ status: 200, body: poolEngines(view, params.pool!) }),
    },
    {
      method: 'POST',
      path: '/api/v1/pools/:pool/engines/:name/streams',
      mutating: true,
      handle: ({ params, body }) => {
        const engine = engineOf(deps, params.pool!, params.name!);
        const { id, ...details } = parseBody(StreamStart, body);
        const { stream, created } = registry.start(
          { pool: engine.pool, containerId: engine.containerId, engine: engine.name },
          id,
          details,
        );
        if (created) deps.wake(`stream ${id} started on ${engine.name}`);
        return { status: created ? 201 : 200, body: { stream, created } };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/pools/:pool/engines/:name/streams/:id',
      mutating: true,
      handle: ({ params }) => {
        const engine = engineOf(deps, params.pool!, params.name!);
        const existing = registry.get(params.id!);
        const ended =
          existing && existing.containerId === engine.containerId ? registry.end(params.id!) : undefined;
        if (ended) deps.wake(`stream ${params.id} ended on ${engine.name}`);
        return { status: 200, body: { ended: ended !== undefined } };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/pools/:pool/acquire',
      mutating: true,
      handle: ({ params, body }) => {
        const engines = poolEngines(view, params.pool!);
        const id = parseBody(AcquireBody, body)?.id ?? randomUUID();
        const open = registry.get(id);
        if (open) {
          // Why: a client that retries an acquire with its own id gets the engine it already holds.
          const held = engines.find((e) => e.containerId === open.containerId);
          if (held) return { status: 200, body: { engine: held, streamId: id, created: false } };
          throw new ApiError(
            409,
            'stream_exists',
            `stream "${id}" is open on engine ${open.engine} of pool "${open.pool}"; end it there first`,
          );
        }
        // Why: no await between ranking and recording, so concurrent acquires see each other's streams.
        const [engine] = rankForStream(engines);
        if (!engine) {
          deps.wake('acquire found no ready engine');
          throw new ApiError(
            503,
            'no_ready_engine',
            `pool "${params.pool}" has no ready engine right now; retry shortly`,
            {
              retryAfterSeconds: 2,
            },
          );
        }
        registry.start({ pool: engine.pool, containerId: engine.containerId, engine: engine.name }, id);
        deps.wake(`stream ${id} acquired ${engine.name}`);
        return {
          status: 200,
          body: { engine: { ...engine, streams: engine.streams + 1 }, streamId: id, created: true },
        };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/pools/:pool/circuit-breaker/reset',
      mutating: true,
      handle: ({ params }) => {
        poolOr404(params.pool!);
        const circuitBreaker = controller.resetBreaker(params.pool!);
        deps.wake(`circuit breaker of ${params.pool} reset`);
        return { status: 200, body: { circuitBreaker } };
      },
    },
  ];
}
