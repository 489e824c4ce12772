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
    // Why empty is allowed: acexy sends "" when it cannot read the id from the stat URL; the peer takes it.
    playback_session_id: z.string().max(256),
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

/** How many ended streams `stream_ended` still recognises (a repeat answers `updated: true`). */
const ENDED_MEMORY = 1000;

/** A pool's VPN as acestream-orchestrator's `/vpn/status` (single mode; `now` in ms). */
export function vpnStatus(status: PoolStatus | undefined, now: number) {
  const vpn = status?.vpn;
  const lastCheck = iso(now);
  if (!status || !vpn?.enabled) {
    return {
      mode: 'disabled',
      enabled: false,
      status: 'disabled',
      connected: false,
      health: 'unknown',
      container: null,
      container_name: null,
      forwarded_port: null,
      public_ip: null,
      last_check: null,
      vpn1: null,
      vpn2: null,
      emergency_mode: { active: false, failed_vpn: null, healthy_vpn: null, duration_seconds: 0 },
    };
  }
  const held = status.conditions.some((c) => c.type === 'Ready' && c.reason === 'VpnNotReady');
  const connected = !held && (vpn.phase === 'healthy' || vpn.phase === 'recovering');
  const single = {
    enabled: true,
    status: vpn.phase === 'unknown' ? 'unknown' : connected ? 'running' : 'stopped',
    container_name: vpn.container,
    container: vpn.container,
    health: vpn.phase === 'unknown' ? 'unknown' : connected ? 'healthy' : 'unhealthy',
    connected,
    forwarded_port: vpn.forwardedPort,
    public_ip: vpn.publicIp,
    last_check: lastCheck,
  };
  // The peer's emergency mode is "a VPN failed"; here that is the pool VPN's emergency phase, dated
  // by the condition that reports it.
  const since = status.conditions.find((c) => c.type === 'Degraded' && c.reason === 'VpnDown');
  const enteredAt = since ? Date.parse(since.lastTransitionTime) : now;
  const emergency_mode =
    vpn.phase === 'emergency'
      ? {
          active: true,
          failed_vpn: vpn.container,
          healthy_vpn: null,
          duration_seconds: Math.max(0, Math.round((now - enteredAt) / 1000)),
          entered_at: iso(enteredAt),
        }
      : { active: false, failed_vpn: null, healthy_vpn: null, duration_seconds: 0 };
  return { mode: 'single', ...single, vpn1: single, vpn2: null, emergency_mode };
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
  /** Streams ended through `stream_ended`, newest last, so that a repeat is recognised. */
  const ended = new Map<string, { stream: StreamRecord; endedAt: number }>();
  const remember = (stream: StreamRecord, endedAt: number) => {
    ended.delete(stream.id);
    ended.set(stream.id, { stream, endedAt });
    if (ended.size > ENDED_MEMORY) ended.delete(ended.keys().next().value!);
  };
  /** Addresses of engines no pool manages that a proxy reported streams on (logged once each). */
  const foreign = new Set<string>();

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/engines',
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
        const id = event.labels?.stream_id || `${event.stream.key}|${event.session.playback_session_id}`;
        const details = {
          key: { type: event.stream.key_type, value: event.stream.key },
          playbackSessionId: event.session.playback_session_id,
          ...(event.session.stat_url ? { statUrl: event.session.stat_url } : {}),
          ...(event.session.command_url ? { commandUrl: event.session.command_url } : {}),
          ...(event.session.is_live !== undefined ? { isLive: Boolean(event.session.is_live) } : {}),
          ...(event.labels ? { labels: event.labels } : {}),
        };
        if (!engine) {
          // Why accepted: acexy reports streams of its fallback engine too, which no pool manages.
          // Refusing them helps nobody; recording them would count streams on engines this
          // controller can neither see nor scale. The stream is answered, then forgotten.
          const address = `${event.engine.host}:${event.engine.port}`;
          const log = foreign.has(address) ? logger.debug.bind(logger) : logger.info.bind(logger);
          if (foreign.size >= ENDED_MEMORY) foreign.clear();
          foreign.add(address);
          log(
            { engine: address, stream: id },
            'stream reported on an engine no pool manages (a proxy fallback engine?); accepted and ignored',
          );
          const record: StreamRecord = {
            id,
            pool: '',
            containerId: event.container_id || address,
            engine: `engine-${event.engine.host}-${event.engine.port}`,
            startedAt: deps.clock.now(),
            ...details,
          };
          return { status: 200, body: streamState(record) };
        }
        const { stream, created } = registry.start(
          { pool: engine.pool, containerId: engine.containerId, engine: engine.name },
          id,
          details,
        );
        ended.delete(id);
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
        if (!event.stream_id && !event.container_id) {
          throw new ApiError(
            400,
            'invalid_body',
            'give "stream_id" (or "container_id") of the stream that ended',
          );
        }
        // As acestream-orchestrator does: a known stream id (open, or ended already) is that stream;
        // otherwise the latest open stream of the engine `container_id` names, if any.
        let target = event.stream_id ? registry.get(event.stream_id) : undefined;
        const repeat = event.stream_id && !target ? ended.get(event.stream_id) : undefined;
        if (repeat) {
          return { status: 200, body: { updated: true, stream: streamState(repeat.stream, repeat.endedAt) } };
        }
        if (!target && event.container_id) {
          const engine = findEngine(controller.allEngines(), { containerId: event.container_id });
          target = engine
            ? registry
                .onEngine(engine.containerId)
                .sort((a, b) => b.startedAt - a.startedAt)
                .at(0)
            : undefined;
        }
        const stream = target ? registry.end(target.id) : undefined;
        if (!stream) return { status: 200, body: { updated: false, stream: null } };
        const endedAt = deps.clock.now();
        remember(stream, endedAt);
        logger.info(
          { pool: stream.pool, engine: stream.engine, stream: stream.id, reason: event.reason ?? undefined },
          'stream ended (proxy event)',
        );
        deps.wake(`stream ${stream.id} ended on ${stream.engine}`);
        return { status: 200, body: { updated: true, stream: streamState(stream, endedAt) } };
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
        const vpn = vpnStatus(targetStatus, deps.clock.now());
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
      handle: ({ query }) => {
        const named = query.get('pool');
        if (named !== null) poolEngines(controller, named);
        const pool =
          named ?? controller.spec()?.pools.find((p) => p.vpn)?.name ?? controller.spec()?.pools[0]?.name;
        const status = pool === undefined ? undefined : controller.poolStatus(pool);
        return { status: 200, body: vpnStatus(status, deps.clock.now()) };
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
              // Why null: enginepool publishes one port per engine (ACE_MAP_HTTPS has no equivalent);
              // Go clients such as acexy read null as 0.
              container_https_port: null,
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
  return routes.map((route) => ({ ...route, peerErrors: true }));
}
