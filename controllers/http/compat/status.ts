import { poolEngines } from '../routes/native.js';
import type { Route } from '../server.js';
import type { CompatDeps, CompatScope } from './compat.js';
import { refusalDetail, vpnStatus } from './payloads.js';

// GET /orchestrator/status and GET /vpn/status: the peer's panel and proxies read these.

/** The status routes. */
export function orchestratorStatusRoutes(deps: CompatDeps, scope: CompatScope): Route[] {
  const { view, registry } = deps;
  return [
    {
      method: 'GET',
      path: '/orchestrator/status',
      handle: ({ query }) => {
        const pools = scope.poolsOf(query);
        const statuses = pools.flatMap((name) => view.poolStatus(name) ?? []);
        const engines = scope.enginesOf(pools);
        const active = registry.list().filter((s) => pools.includes(s.pool)).length;
        const used = engines.filter((e) => e.streams > 0).length;
        const target = query.get('pool') ?? view.spec()?.pools[0]?.name;
        const refusal = target === undefined ? undefined : view.provisionRefusal(target);
        const targetStatus = target === undefined ? undefined : view.poolStatus(target);
        const breaker = targetStatus?.circuitBreaker.state ?? 'closed';
        const ready = view.readiness().ready;
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
      sensitive: true,
      handle: ({ query }) => {
        const named = query.get('pool');
        if (named !== null) poolEngines(view, named);
        const pool = named ?? view.spec()?.pools.find((p) => p.vpn)?.name ?? view.spec()?.pools[0]?.name;
        const status = pool === undefined ? undefined : view.poolStatus(pool);
        return { status: 200, body: vpnStatus(status, deps.clock.now()) };
      },
    },
  ];
}
