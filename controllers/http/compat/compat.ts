import type { Clock } from '../../../state/clock.js';
import type { Controller } from '../../loop/controller.js';
import type { EngineInfo, ReadModel } from '../../loop/readModel.js';
import type { Logger } from '../../observability/logger.js';
import type { StreamRegistry } from '../../streams/registry.js';
import { poolEngines } from '../routes/native.js';
import { ApiError, type Route } from '../server.js';
import { streamEventRoutes } from './events.js';
import { provisionRoutes } from './provision.js';
import { engineRoutes } from './reads.js';
import { orchestratorStatusRoutes } from './status.js';

// The routes of acestream-orchestrator (its Python era) that proxies such as acexy speak, with its
// payloads and status codes (shared/reference/apis.md §6), so such a proxy can be pointed at
// enginepool unchanged. Lists cover every pool; provisioning (and the status of it) acts on the pool
// named by `?pool=`, by default the first pool of the file. One file per route group.

/** What the compatibility routes act on. */
export interface CompatDeps {
  readonly controller: Controller;
  readonly view: ReadModel;
  readonly registry: StreamRegistry;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Asks for a reconcile pass now (a stream changed how many engines are free). */
  readonly wake: (reason: string) => void;
}

/** The pool choices every route group shares. */
export interface CompatScope {
  /** The pools a read covers: `?pool=` or every pool. */
  readonly poolsOf: (query: URLSearchParams) => string[];
  /** The pool provisioning acts on: `?pool=` or the first pool of the file. */
  readonly provisionPool: (query: URLSearchParams) => string;
  readonly enginesOf: (pools: readonly string[]) => EngineInfo[];
}

/** The compatibility routes. */
export function compatRoutes(deps: CompatDeps): Route[] {
  const { view } = deps;
  const scope: CompatScope = {
    poolsOf: (query) => {
      const named = query.get('pool');
      if (named !== null) {
        poolEngines(view, named);
        return [named];
      }
      return view.poolStatuses().map((s) => s.name);
    },
    provisionPool: (query) => {
      const pool = query.get('pool') ?? view.spec()?.pools[0]?.name;
      if (pool === undefined)
        throw new ApiError(503, 'not_ready', 'no valid desired-state file is loaded', {
          retryAfterSeconds: 5,
        });
      poolEngines(view, pool);
      return pool;
    },
    enginesOf: (pools) => pools.flatMap((pool) => view.engines(pool) ?? []),
  };
  const routes = [
    ...engineRoutes(deps, scope),
    ...streamEventRoutes(deps),
    ...orchestratorStatusRoutes(deps, scope),
    ...provisionRoutes(deps, scope),
  ];
  return routes.map((route) => ({ ...route, peerErrors: true }));
}
