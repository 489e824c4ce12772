import { z } from 'zod';
import type { ProvisionRefusal } from '../reconcilers/provision.js';
import type { PoolStatus } from '../reconcilers/status.js';
import type { Clock } from '../state/clock.js';
import { parseBody, poolEngines } from './api.js';
import type { Controller, EngineInfo } from './controller.js';
import { ApiError, type Reply, type Route } from './http.js';
import type { Logger } from './logger.js';
import { ProvisionRefused } from './provisions.js';
import type { StreamRecord, StreamRegistry } from './streams.js';

// The routes of acestream-orchestrator (its Python era) that proxies such as acexy speak, with its
// payloads and status codes (shared/reference/apis.md §6), so such a proxy can be pointed at
// enginepool unchanged. Lists cover every pool; provisioning (and the status of it) acts on the pool
// named by `?pool=`, by default the first pool of the file. Bodies are loose objects: a proxy may send
// fields this controller does not use.

/** What the compatibility routes act on. */
export interface CompatDeps {
  readonly controller: Controller;
  readonly registry: StreamRegistry;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Asks for a reconcile pass now (a stream changed how many engines are free). */
  readonly wake: (reason: string) => void;
}

const HttpUrl = z.url({ protocol: /^https?$/ }).max(2048);
const OptionalUrl = z.union([HttpUrl, z.literal('')]).nullish();
const Labels = z.record(z.string(), z.string().max(1024)).nullish();

const StreamStarted = z.looseObject({
  container_id: z.string().max(256).nullish(),
  engine: z.looseObject({
    host: z.string().min(1).max(256),
    port: z.number().int().min(1).max(65535),
  }),
  stream: z.looseObject({
    key_type: z.enum(['content_id', 'infohash', 'url', 'magnet']),
    key: z.string().min(1).max(4096),
  }),
  session: z.looseObject({
    playback_session_id: z.string().min(1).max(256),
    stat_url: OptionalUrl,
    command_url: OptionalUrl,
    is_live: z.union([z.literal(0), z.literal(1), z.boolean()]).optional(),
  }),
  labels: Labels,
});

const StreamEnded = z.looseObject({
  container_id: z.string().max(256).nullish(),
  stream_id: z.string().max(256).nullish(),
  reason: z.string().max(1024).nullish(),
});

const ProvisionBody = z
  .looseObject({
    image: z.string().nullish(),
    labels: Labels,
    env: Labels,
    host_port: z.number().int().nullish(),
  })
  .optional();

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The engine a proxy names: by container id (full, a prefix of 12 or more, or the container name), else
 * by the host and port it reached it on (the address `GET /engines` gives, or the published host port).
 */
export function findEngine(
  engines: readonly EngineInfo[],
  by: { readonly containerId?: string; readonly host?: string; readonly port?: number },
): EngineInfo | undefined {
  const id = by.containerId?.trim();
  if (id) {
    const byId = engines.find(
      (e) => e.containerId === id || e.name === id || (id.length >= 12 && e.containerId.startsWith(id)),
    );
    // Why: some proxies send their own container id here; the address still names the engine.
    if (byId) return byId;
  }
  if (by.port === undefined) return undefined;
  return (
    engines.find((e) => e.host === by.host && e.port === by.port) ??
    engines.find((e) => e.hostPort === by.port)
  );
}

/** A stream as acestream-orchestrator's `StreamState`. */
export function streamState(stream: StreamRecord, endedAt?: number) {
  return {
    id: stream.id,
    key_type: stream.key?.type ?? null,
    key: stream.key?.value ?? null,
    container_id: stream.containerId,
    container_name: stream.engine,
    playback_session_id: stream.playbackSessionId ?? null,
    stat_url: stream.statUrl ?? null,
    command_url: stream.commandUrl ?? null,
    is_live: stream.isLive ?? null,
    started_at: iso(stream.startedAt),
    ended_at: endedAt === undefined ? null : iso(endedAt),
    status: endedAt === undefined ? 'started' : 'ended',
    labels: stream.labels ?? {},
  };
}

/** A provisioning refusal as acestream-orchestrator's `detail`. */
export function refusalDetail(refusal: ProvisionRefusal) {
  return {
    error: refusal.code === 'general_error' ? 'provisioning_failed' : 'provisioning_blocked',
    code: refusal.code,
    message: refusal.message,
    recovery_eta_seconds: refusal.recoveryEtaSeconds,
    can_retry: refusal.canRetry,
    should_wait: refusal.shouldWait,
  };
}

/** A pool's VPN as acestream-orchestrator's `/vpn/status`. */
export function vpnStatus(status: PoolStatus | undefined) {
  const vpn = status?.vpn;
  if (!status || !vpn?.enabled) {
    return {
      enabled: false,
      status: 'disabled',
      connected: false,
      health: 'unknown',
      container: null,
      forwarded_port: null,
      public_ip: null,
      emergency_mode: false,
    };
  }
  const held = status.conditions.some((c) => c.type === 'Ready' && c.reason === 'VpnNotReady');
  const connected = !held && (vpn.phase === 'healthy' || vpn.phase === 'recovering');
  return {
    enabled: true,
    status: vpn.phase === 'unknown' ? 'unknown' : connected ? 'running' : 'stopped',
    connected,
    health: vpn.phase === 'unknown' ? 'unknown' : connected ? 'healthy' : 'unhealthy',
    container: vpn.container,
    forwarded_port: vpn.forwardedPort,
    public_ip: vpn.publicIp,
    emergency_mode: vpn.phase === 'emergency',
  };
}

/** The compatibility routes. */
export function compatRoutes(deps: CompatDeps): Route[] {
  const { controller, registry, logger } = deps;

  /** The pools a read covers: `?pool=` or every pool. */
  const poolsOf = (query: URLSearchParams): string[] => {
    const named = query.get('pool');
    if (named !== null) {
      poolEngines(controller, named);
      return [named];
    }
    return controller.poolStatuses().map((s) => s.name);
  };
  /** The pool provisioning acts on: `?pool=` or the first pool of the file. */
  const provisionPool = (query: URLSearchParams): string => {
    const pool = query.get('pool') ?? controller.spec()?.pools[0]?.name;
    if (pool === undefined)
      throw new ApiError(503, 'not_ready', 'no valid desired-state file is loaded', { retryAfterSeconds: 5 });
    poolEngines(controller, pool);
    return pool;
  };
  const enginesOf = (pools: readonly string[]) => pools.flatMap((pool) => controller.engines(pool) ?? []);

  return [
    {
      method: 'GET',
      path: '/engines',
      sensitive: true,
      handle: ({ query }) => {
        const facts = registry.facts();
        const streams = registry.list();
        const lastSeen = controller.observedAt();
        const engines = enginesOf(poolsOf(query)).sort((a, b) => a.port - b.port || a.hostPort - b.hostPort);
        const body = engines.map((e) => {
          const own = streams.filter((s) => s.containerId === e.containerId);
          const lastUsage = Math.max(
            facts.get(e.containerId)?.lastEndedAt ?? 0,
            ...own.map((s) => s.startedAt),
          );
          return {
            container_id: e.containerId,
            container_name: e.name,
            host: e.host,
            port: e.port,
            labels: e.labels,
            forwarded: e.forwarded,
            first_seen: e.createdAt,
            last_seen: lastSeen === undefined ? e.createdAt : iso(lastSeen),
            streams: own.map((s) => s.id),
            health_status: e.health,
            vpn_container: e.vpn ?? null,
            last_stream_usage: lastUsage > 0 ? iso(lastUsage) : e.createdAt,
          };
        });
        return { status: 200, body };
      },
    },
    {
      method: 'GET',
      path: '/streams',
      sensitive: true,
      handle: ({ query }) => {
        const status = query.get('status') ?? 'started';
        if (status !== 'started' && status !== 'ended') {
          throw new ApiError(400, 'invalid_query', `status must be "started" or "ended", got "${status}"`);
        }
        // Why: ended streams are not kept; a stream that ended is simply no longer listed.
        if (status === 'ended') return { status: 200, body: [] };
        const containerId = query.get('container_id');
        const pools = new Set(poolsOf(query));
        const body = registry
          .list()
          .filter((s) => pools.has(s.pool) && (!containerId || s.containerId.startsWith(containerId)))
          .sort((a, b) => a.startedAt - b.startedAt)
          .map((s) => streamState(s));
        return { status: 200, body };
      },
    },
    {
      method: 'POST',
      path: '/events/stream_started',
      mutating: true,
      handle: ({ body }) => {
        const event = parseBody(StreamStarted, body);
        const engine = findEngine(controller.allEngines(), {
          ...(event.container_id ? { containerId: event.container_id } : {}),
          host: event.engine.host,
          port: event.engine.port,
        });
        if (!engine) {
          throw new ApiError(
            404,
            'engine_not_found',
            `no engine at ${event.engine.host}:${event.engine.port}${event.container_id ? ` or with container id "${event.container_id}"` : ''}; GET /engines lists them`,
          );
        }
        const id = event.labels?.stream_id || event.session.playback_session_id;
        const { stream, created } = registry.start(
          { pool: engine.pool, containerId: engine.containerId, engine: engine.name },
          id,
          {
            key: { type: event.stream.key_type, value: event.stream.key },
            playbackSessionId: event.session.playback_session_id,
            ...(event.session.stat_url ? { statUrl: event.session.stat_url } : {}),
            ...(event.session.command_url ? { commandUrl: event.session.command_url } : {}),
            ...(event.session.is_live !== undefined ? { isLive: Boolean(event.session.is_live) } : {}),
            ...(event.labels ? { labels: event.labels } : {}),
          },
        );
        if (created) {
          logger.info({ pool: engine.pool, engine: engine.name, stream: id }, 'stream started (proxy event)');
          deps.wake(`stream ${id} started on ${engine.name}`);
        }
        return { status: 200, body: streamState(stream) };
      },
    },
    {
      method: 'POST',
      path: '/events/stream_ended',
      mutating: true,
      handle: ({ body }) => {
        const event = parseBody(StreamEnded, body);
        let target: StreamRecord | undefined;
        if (event.stream_id) {
          target = registry.get(event.stream_id);
        } else if (event.container_id) {
          // As acestream-orchestrator did: without a stream id, the engine's latest stream ends.
          const engine = findEngine(controller.allEngines(), { containerId: event.container_id });
          target = engine
            ? registry
                .onEngine(engine.containerId)
                .sort((a, b) => b.startedAt - a.startedAt)
                .at(0)
            : undefined;
        } else {
          throw new ApiError(
            400,
            'invalid_body',
            'give "stream_id" (or "container_id") of the stream that ended',
          );
        }
        const ended = target ? registry.end(target.id) : undefined;
        if (!ended) return { status: 200, body: { updated: false, stream: null } };
        logger.info(
          { pool: ended.pool, engine: ended.engine, stream: ended.id, reason: event.reason ?? undefined },
          'stream ended (proxy event)',
        );
        deps.wake(`stream ${ended.id} ended on ${ended.engine}`);
        return { status: 200, body: { updated: true, stream: streamState(ended, deps.clock.now()) } };
      },
    },
    {
      method: 'GET',
      path: '/orchestrator/status',
      handle: ({ query }) => {
        const pools = poolsOf(query);
        const statuses = pools.flatMap((name) => controller.poolStatus(name) ?? []);
        const engines = enginesOf(pools);
        const active = registry.list().filter((s) => pools.includes(s.pool)).length;
        const used = engines.filter((e) => e.streams > 0).length;
        const target = query.get('pool') ?? controller.spec()?.pools[0]?.name;
        const refusal = target === undefined ? undefined : controller.provisionRefusal(target);
        const targetStatus = target === undefined ? undefined : controller.poolStatus(target);
        const breaker = targetStatus?.circuitBreaker.state ?? 'closed';
        const ready = controller.readiness().ready;
        const status =
          !ready || engines.length === 0
            ? 'unavailable'
            : refusal && (refusal.code === 'vpn_disconnected' || refusal.code === 'circuit_breaker')
              ? 'degraded'
              : 'healthy';
        const vpn = vpnStatus(targetStatus);
        return {
          status: 200,
          body: {
            status,
            engines: {
              total: engines.length,
              running: engines.length,
              healthy: engines.filter((e) => e.health === 'healthy').length,
              unhealthy: engines.filter((e) => e.health === 'unhealthy').length,
            },
            streams: { active },
            capacity: {
              total: engines.length,
              used,
              available: engines.length - used,
              max_replicas: statuses.reduce((sum, s) => sum + s.replicas.max, 0),
              min_replicas: statuses.reduce((sum, s) => sum + s.replicas.min, 0),
            },
            vpn: {
              enabled: vpn.enabled,
              connected: vpn.connected,
              health: vpn.health,
              container: vpn.container,
              forwarded_port: vpn.forwarded_port,
            },
            provisioning: {
              can_provision: ready && refusal === undefined,
              circuit_breaker_state: breaker === 'halfOpen' ? 'half_open' : breaker,
              blocked_reason: refusal?.message ?? null,
              blocked_reason_details: refusal ? refusalDetail(refusal) : null,
            },
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/vpn/status',
      sensitive: true,
      handle: ({ query }) => {
        const named = query.get('pool');
        if (named !== null) poolEngines(controller, named);
        const pool =
          named ?? controller.spec()?.pools.find((p) => p.vpn)?.name ?? controller.spec()?.pools[0]?.name;
        return { status: 200, body: vpnStatus(pool === undefined ? undefined : controller.poolStatus(pool)) };
      },
    },
    {
      method: 'POST',
      path: '/provision/acestream',
      mutating: true,
      handle: async ({ query, body }): Promise<Reply> => {
        const request = parseBody(ProvisionBody, body);
        const custom = [
          request?.image ? 'image' : '',
          request?.host_port ? 'host_port' : '',
          Object.keys(request?.labels ?? {}).length > 0 ? 'labels' : '',
          Object.keys(request?.env ?? {}).length > 0 ? 'env' : '',
        ].filter(Boolean);
        if (custom.length > 0) {
          throw new ApiError(
            400,
            'unsupported',
            `${custom.join(', ')} cannot be chosen per request: every engine is made from its pool's template in the desired-state file`,
          );
        }
        const pool = provisionPool(query);
        try {
          const engine = await controller.provision(pool);
          logger.info({ pool, engine: engine.name }, 'engine started on request');
          return {
            status: 200,
            body: {
              container_id: engine.containerId,
              container_name: engine.name,
              host_http_port: engine.hostPort,
              container_http_port: engine.httpPort,
            },
          };
        } catch (error) {
          if (!(error instanceof ProvisionRefused)) throw error;
          const { refusal } = error;
          logger.info({ pool, code: refusal.code, reason: refusal.message }, 'provision request refused');
          return {
            status: 503,
            body: { detail: refusalDetail(refusal), error: { code: refusal.code, message: refusal.message } },
            ...(refusal.recoveryEtaSeconds !== null
              ? { headers: { 'Retry-After': String(Math.max(1, refusal.recoveryEtaSeconds)) } }
              : {}),
          };
        }
      },
    },
  ];
}
