import { iso } from '../../../state/clock.js';
import { ApiError, type Route } from '../server.js';
import type { CompatDeps, CompatScope } from './compat.js';
import { streamState } from './payloads.js';

// GET /engines and GET /streams: what a proxy reads to pick an engine and to list streams.

/** The read routes. */
export function engineRoutes(deps: CompatDeps, scope: CompatScope): Route[] {
  const { registry, view } = deps;
  return [
    {
      method: 'GET',
      path: '/engines',
      sensitive: true,
      handle: ({ query }) => {
        const facts = registry.facts();
        const streams = registry.list();
        const lastSeen = view.observedAt();
        const engines = scope
          .enginesOf(scope.poolsOf(query))
          .sort((a, b) => a.port - b.port || a.hostPort - b.hostPort);
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
        const pools = new Set(scope.poolsOf(query));
        const body = registry
          .list()
          .filter((s) => pools.has(s.pool) && (!containerId || s.containerId.startsWith(containerId)))
          .sort((a, b) => a.startedAt - b.startedAt)
          .map((s) => streamState(s));
        return { status: 200, body };
      },
    },
  ];
}
