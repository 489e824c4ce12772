import { type HealthState, healthState, type ProbeRecord } from '../state/health.js';
import type { BreakerView } from '../state/machines/circuitBreaker.js';
import type { VpnView } from '../state/machines/vpnLifecycle.js';
import { isLive, type ObservedEngine, type ObservedVpn, type ObservedWorld } from '../state/observed.js';
import type { PoolSpec } from '../state/spec/index.js';
import { type PortBudget, portBudget } from './ports.js';
import { type RemovalFailure, type StuckEngine, stuckEngines } from './stuck.js';

// One pool as the reconcilers see it: each engine with its phase, streams and whether it is outdated,
// plus the pool's machines and port budget. Pure: built from the world and plain views.

/** Open streams and the time the last one ended, for one engine (by container id). */
export interface StreamFacts {
  readonly open: number;
  readonly lastEndedAt?: number;
}

/** The plain views of everything the shell knows that Docker does not: probes, streams, machines. */
export interface MachineView {
  readonly probes: ReadonlyMap<string, ProbeRecord>;
  readonly streams: ReadonlyMap<string, StreamFacts>;
  /** When the last stream of each pool ended: a pool shrinks only once demand has been low for the delay. */
  readonly poolLastStreamEndedAt: ReadonlyMap<string, number>;
  readonly breakers: ReadonlyMap<string, BreakerView>;
  /** VPN machine views by pool name. */
  readonly vpns: ReadonlyMap<string, VpnView>;
  /** Host ports Docker refused recently (a host process holds them). */
  readonly setAsidePorts: ReadonlySet<number>;
  /** Engines created before this time predate this controller run: their exits are not its failures. */
  readonly countFailuresSince: number;
  /** Extra engines asked for through the API (`POST /provision/acestream`) and not started yet, by pool. */
  readonly provisionRequests: ReadonlyMap<string, number>;
  /** Containers whose removal failed, by container id, until Docker shows them gone. */
  readonly removalFailures: ReadonlyMap<string, RemovalFailure>;
}

/** Where an engine is in its life: exited (not running any more), or its health state. */
export type EnginePhase = 'exited' | HealthState;

/** One engine as the reconcilers see it. */
export interface EngineStatus {
  readonly engine: ObservedEngine;
  readonly phase: EnginePhase;
  /** It answered a probe at least once since it was (re)started. */
  readonly everReady: boolean;
  /** For a starting engine: when it times out if still not ready. */
  readonly startupDeadline?: number;
  /** Created during this controller run, so an exit before ready is a provisioning failure. */
  readonly provisionedByThisRun: boolean;
  readonly streams: number;
  /** Since when it has carried no stream (its creation if it never did). */
  readonly freeSince: number;
  /** Why it must be replaced once free (template changed, port no longer allowed); undefined when current. */
  readonly outdated?: string;
}

/** The VPN of a pool: its machine's view and what Docker shows of its container. */
export interface PoolVpn {
  readonly view: VpnView;
  readonly observed: ObservedVpn;
  /** Engines may be created, probed and handed out: the container runs and the phase allows it. */
  readonly usable: boolean;
  /** Why it is not usable, when it is not. */
  readonly holdReason?: string;
}

/** One pool, ready for the reconcilers. */
export interface PoolSnapshot {
  readonly pool: PoolSpec;
  readonly engines: readonly EngineStatus[];
  readonly breaker: BreakerView;
  readonly vpn?: PoolVpn;
  readonly ports: PortBudget;
  readonly lastStreamEndedAt?: number;
  /** Extra engines asked for through the API, to start on top of what minFree wants. */
  readonly requested: number;
  /** Engines Docker could not remove (or shows half-removed): their names and ports stay held. */
  readonly stuck: readonly StuckEngine[];
  readonly now: number;
}

/** The API's engine states (contract §3). */
export type EngineState = 'starting' | 'ready' | 'unhealthy' | 'draining';

/** The state the API reports for a running engine; `held` when its VPN is down (never handed out then). */
export function engineState(status: EngineStatus, vpnUsable: boolean): EngineState {
  if (status.outdated !== undefined && status.phase !== 'exited') return 'draining';
  if (!vpnUsable && status.phase === 'ready') return 'unhealthy';
  switch (status.phase) {
    case 'ready':
      return 'ready';
    case 'starting':
      return 'starting';
    default:
      return 'unhealthy';
  }
}

const CLOSED_BREAKER: BreakerView = {
  state: 'closed',
  failures: 0,
  createsAllowed: Number.POSITIVE_INFINITY,
  failuresToOpen: Number.POSITIVE_INFINITY,
};

function vpnOf(pool: PoolSpec, world: ObservedWorld, view: MachineView): PoolVpn | undefined {
  const name = pool.vpn?.gluetun.container;
  if (name === undefined) return undefined;
  const observed = world.vpns.get(name) ?? { name, exists: false, publishedPorts: [], networks: {} };
  const machine: VpnView = view.vpns.get(pool.name) ?? {
    phase: 'unknown',
    forwardedPort: null,
    publicIp: null,
    lastError: null,
    failures: 0,
    recoveredAt: null,
  };
  let holdReason: string | undefined;
  if (!observed.exists) holdReason = `VPN container "${name}" does not exist`;
  else if (observed.state !== 'running') holdReason = `VPN container "${name}" is ${observed.state}`;
  else if (machine.phase === 'unknown') holdReason = `VPN "${name}" has not been probed yet`;
  else if (machine.phase === 'emergency') {
    holdReason = `VPN "${name}" is down${machine.lastError ? `: ${machine.lastError}` : ''}`;
  }
  return { view: machine, observed, usable: holdReason === undefined, ...(holdReason ? { holdReason } : {}) };
}

/** Why an engine must be replaced once free, or undefined when it matches the pool as written now. */
function outdatedReason(
  pool: PoolSpec,
  engine: ObservedEngine,
  ports: PortBudget,
  vpn?: PoolVpn,
): string | undefined {
  if (engine.specHash !== pool.templateHash) return 'template changed';
  if (engine.hostPort === undefined) return 'no host-port label';
  // Why: while the VPN container is missing its published ports are unknown; that is not a reason.
  if ((!vpn || vpn.observed.exists) && !ports.allowed.has(engine.hostPort)) {
    return vpn
      ? `port ${engine.hostPort} is not published by the VPN within hostRange`
      : `port ${engine.hostPort} is outside hostRange`;
  }
  return undefined;
}

/** Builds the snapshot of one pool. */
export function snapshotPool(
  pool: PoolSpec,
  world: ObservedWorld,
  view: MachineView,
  now: number,
): PoolSnapshot {
  const vpn = vpnOf(pool, world, view);
  const ports = portBudget(pool, world, view.setAsidePorts);
  const observed = world.enginesByPool.get(pool.name) ?? [];
  const engines = observed
    .map((engine): EngineStatus => {
      const probe = view.probes.get(engine.containerId);
      const streams = view.streams.get(engine.containerId);
      const outdated = outdatedReason(pool, engine, ports, vpn);
      const phase = isLive(engine.state) ? healthState(probe, pool.template.health, now) : 'exited';
      const startupDeadline =
        phase === 'starting' && probe
          ? probe.firstSeenAt + pool.template.health.startupTimeoutSeconds * 1000
          : undefined;
      // Why: every status has the same keys (absent ones undefined): one object shape for the
      // reconcilers' per-engine loops (see toObservedContainer).
      return {
        engine,
        phase,
        everReady: probe?.readyAt !== undefined,
        // Why: Docker's creation time has whole seconds; a create in the first second of the run counts.
        provisionedByThisRun: engine.createdAt >= view.countFailuresSince - 1000,
        startupDeadline,
        streams: streams?.open ?? 0,
        freeSince: Math.max(engine.createdAt, streams?.lastEndedAt ?? 0),
        outdated,
      };
    })
    .sort(
      (a, b) => (a.engine.index ?? Number.MAX_SAFE_INTEGER) - (b.engine.index ?? Number.MAX_SAFE_INTEGER),
    );
  const lastStreamEndedAt = view.poolLastStreamEndedAt.get(pool.name);
  return {
    pool,
    engines,
    breaker: view.breakers.get(pool.name) ?? CLOSED_BREAKER,
    ...(vpn ? { vpn } : {}),
    ports,
    ...(lastStreamEndedAt !== undefined ? { lastStreamEndedAt } : {}),
    requested: view.provisionRequests.get(pool.name) ?? 0,
    stuck: stuckEngines(observed, view.removalFailures, now),
    now,
  };
}
