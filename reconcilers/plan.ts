import { engineName } from '../state/labels.js';
import { describeBreaker } from '../state/machines/circuitBreaker.js';
import type { ObservedWorld } from '../state/observed.js';
import { type DesiredSpec, derivedPort, type PoolSpec } from '../state/spec/index.js';
import type { Action, CreateAction, CreateIntent, RemoveAction, RestartAction } from './actions.js';
import { type MachineView, type PoolSnapshot, snapshotPool } from './engines.js';
import { lowestFreeIndexes } from './names.js';
import { type CapacityLimit, reconcileReplicas } from './replicas.js';
import { dueRemovals } from './stuck.js';
import { reconcileVpn } from './vpn.js';

// One tick's plan: run the reconcilers of every pool, gate creates by the breaker and the VPN, give each
// create the lowest free name and a free port, and order the result: removes, restarts, creates.

/** Everything a plan is computed from. Plain data; `now` comes from the injected clock. */
export interface PlanInput {
  readonly spec: DesiredSpec;
  readonly world: ObservedWorld;
  readonly view: MachineView;
  readonly now: number;
}

/** What the plan found for one pool, for status and conditions. */
export interface PoolPlan {
  readonly snapshot: PoolSnapshot;
  readonly desired: number;
  readonly limit?: CapacityLimit;
  /** Creates held back this tick, and why (breaker open, VPN down, no free port). */
  readonly blocked?: { readonly count: number; readonly reason: string; readonly code: BlockCode };
}

/** Why creates were held back. */
export type BlockCode = 'CircuitOpen' | 'PortsExhausted';

/** The plan of one tick. */
export interface Plan {
  readonly actions: readonly Action[];
  readonly pools: ReadonlyMap<string, PoolPlan>;
  /** When the plan should be recomputed even if nothing wakes the loop (a delay ends). */
  readonly requeueAt?: number;
  /**
   * Pools that have managed containers but are not in the file. They are reported, never touched:
   * another controller (another file) may own them, and their names and ports stay blocked.
   */
  readonly unknownPools: readonly string[];
}

function gateCreates(snapshot: PoolSnapshot, creates: readonly CreateIntent[], plannedFailures: number) {
  // A VPN that is not usable is not gated here: the replicas reconciler plans nothing behind it.
  if (creates.length === 0) return { allowed: creates };
  const { breaker } = snapshot;
  // Why: removing engines that failed records failures when this plan runs; if they open the
  // breaker, a create in the same plan would be one more call of a systematic failure.
  if (plannedFailures > 0 && plannedFailures >= breaker.failuresToOpen) {
    const reason = `this pass records ${plannedFailures} provisioning ${plannedFailures === 1 ? 'failure' : 'failures'}, enough to open the circuit breaker`;
    return { allowed: [], blocked: { count: creates.length, reason, code: 'CircuitOpen' as const } };
  }
  if (creates.length <= breaker.createsAllowed) return { allowed: creates };
  const reason = describeBreaker(breaker);
  const allowed = creates.slice(0, breaker.createsAllowed);
  return {
    allowed,
    blocked: { count: creates.length - allowed.length, reason, code: 'CircuitOpen' as const },
  };
}

/**
 * Places creates: lowest free names, free ports (ports and names freed by this plan's removes included,
 * except those of stuck engines).
 */
function place(
  pool: PoolSpec,
  snapshot: PoolSnapshot,
  creates: readonly CreateIntent[],
  removed: readonly RemoveAction[],
  names: PlannedNames,
  portsTaken: Set<number>,
): { placed: CreateAction[]; unplaced: number } {
  // Why: most pools create nothing on most passes; the ports freed by their removes only matter to a create.
  if (creates.length === 0) return { placed: [], unplaced: 0 };
  const ports = [...new Set([...snapshot.ports.free, ...freedPorts(snapshot, removed)])]
    .filter((port) => !portsTaken.has(port))
    .sort((a, b) => a - b);
  const indexes = lowestFreeIndexes(pool.name, creates.length, names);
  const forwardedPort = snapshot.vpn?.view.forwardedPort ?? null;
  const placed: CreateAction[] = [];
  creates.forEach((intent, i) => {
    const hostPort = ports[i];
    const index = indexes[i]!;
    if (hostPort === undefined) return;
    const name = engineName(pool.name, index);
    names.add(name);
    portsTaken.add(hostPort);
    // Why the intent's fields one by one, not a spread: the spread copy given five more keys cost
    // ~1.8 KB per create (V8's sampling heap profiler; 45 KB a plan in bench/plan.bench.ts), this
    // literal only the object. `requested` stays undefined when the intent has none.
    placed.push({
      kind: 'create',
      pool: intent.pool,
      forwarded: intent.forwarded,
      reason: intent.reason,
      requested: intent.requested,
      name,
      index,
      hostPort,
      p2pPort:
        intent.forwarded && forwardedPort !== null
          ? forwardedPort
          : derivedPort(pool.hostRange, hostPort, 'p2pPort'),
      apiPort: derivedPort(pool.hostRange, hostPort, 'apiPort'),
    });
  });
  return { placed, unplaced: creates.length - placed.length };
}

/** The host ports this plan's removes free for the pool's creates (a stuck engine's stays held). */
function freedPorts(snapshot: PoolSnapshot, removed: readonly RemoveAction[]): number[] {
  if (removed.length === 0) return [];
  const stuckIds = new Set(snapshot.stuck.map((s) => s.engine.containerId));
  const removedIds = new Set(removed.map((r) => r.containerId).filter((id) => !stuckIds.has(id)));
  // Why: a removed engine's port is reusable only when nothing that stays holds it: no foreign
  // container (one may publish the port a never-started engine had on its label), no other engine.
  const freed = new Set<number>();
  for (const { engine } of snapshot.engines) {
    const port = engine.hostPort;
    if (removedIds.has(engine.containerId) && port !== undefined && snapshot.ports.ownHeld.has(port))
      freed.add(port);
  }
  if (freed.size === 0) return [];
  for (const { engine } of snapshot.engines) {
    if (removedIds.has(engine.containerId)) continue;
    for (const port of engine.hostPorts) freed.delete(port);
    if (engine.hostPort !== undefined) freed.delete(engine.hostPort);
  }
  return [...freed];
}

/**
 * The names a plan's creates may not take: those Docker shows (minus the ones this plan's removes
 * free) and those given to earlier creates of the plan.
 * Why not a copy of the world's names: at 1,000 engines that copy was the largest allocation of a plan.
 */
class PlannedNames {
  private readonly given = new Set<string>();
  constructor(
    private readonly held: ReadonlySet<string>,
    private readonly freed: ReadonlySet<string>,
  ) {}
  has(name: string): boolean {
    return this.given.has(name) || (this.held.has(name) && !this.freed.has(name));
  }
  add(name: string): void {
    this.given.add(name);
  }
}

/** Computes the plan of one tick. Pure. */
export function planTick(input: PlanInput): Plan {
  const { spec, world, view, now } = input;
  const removes: RemoveAction[] = [];
  const restarts: RestartAction[] = [];
  const creates: CreateAction[] = [];
  const pools = new Map<string, PoolPlan>();
  let requeueAt: number | undefined;
  const known = new Set(spec.pools.map((pool) => pool.name));
  const unknownPools = [...world.enginesByPool.keys()].filter((pool) => !known.has(pool)).sort();

  const decided = spec.pools.map((pool) => {
    const snapshot = snapshotPool(pool, world, view, now);
    const vpn = reconcileVpn(snapshot);
    // Why: an engine the VPN reconciler removes is gone for the replicas; one it restarts still counts.
    const excluded = new Set(
      vpn.intents.flatMap((intent) => (intent.kind === 'remove' ? [intent.containerId] : [])),
    );
    const replicas = reconcileReplicas(snapshot, excluded);
    const due = dueRemovals([...vpn.intents, ...replicas.intents], snapshot, now);
    for (const at of [replicas.requeueAt, due.retryAt])
      if (at !== undefined) requeueAt = Math.min(requeueAt ?? at, at);
    const removed: RemoveAction[] = [];
    for (const intent of due.intents) {
      if (intent.kind === 'remove') removed.push(intent);
      else if (intent.kind === 'restart') restarts.push(intent);
    }
    removes.push(...removed);
    return { pool, snapshot, replicas, intents: due.intents, removed };
  });

  // Why: names and ports are placed after every removal is known, across pools, so two pools with
  // overlapping ranges never get the same port and a removed engine's name is reused at once.
  // A stuck engine's name is never among them: it stays held until Docker shows the container gone.
  const stuckIds = new Set(
    decided.flatMap(({ snapshot }) => snapshot.stuck.map((s) => s.engine.containerId)),
  );
  const removedNames = new Set(removes.filter((r) => !stuckIds.has(r.containerId)).map((r) => r.name));
  const names = new PlannedNames(world.names, removedNames);
  const portsTaken = new Set<number>();
  for (const { pool, snapshot, replicas, intents, removed } of decided) {
    const wanted = intents.filter((intent): intent is CreateIntent => intent.kind === 'create');
    const plannedFailures = intents.filter((intent) => intent.kind === 'remove' && intent.failure).length;
    const gated = gateCreates(snapshot, wanted, plannedFailures);
    const { placed, unplaced } = place(
      pool,
      snapshot,
      gated.allowed,
      // Why the pool's own removes, not the plan's filtered by pool: that filter made planning
      // quadratic in the number of pools.
      removed,
      names,
      portsTaken,
    );
    creates.push(...placed);
    const blocked =
      gated.blocked ??
      (unplaced > 0
        ? {
            count: unplaced,
            reason: `no free host port in ${pool.hostRange.start}-${pool.hostRange.end}`,
            code: 'PortsExhausted' as const,
          }
        : undefined);
    pools.set(pool.name, {
      snapshot,
      desired: replicas.desired,
      ...(replicas.limit ? { limit: replicas.limit } : {}),
      ...(blocked ? { blocked } : {}),
    });
  }
  return {
    actions: [...removes, ...restarts, ...creates],
    pools,
    unknownPools,
    ...(requeueAt !== undefined ? { requeueAt } : {}),
  };
}
