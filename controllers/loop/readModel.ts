import type { Plan, PoolPlan } from '../../reconcilers/plan.js';
import { type ProvisionRefusal, provisionRefusal } from '../../reconcilers/provision.js';
import { engineStates, type PoolStatus, type Problem, poolStatus } from '../../reconcilers/status.js';
import { type Clock, iso } from '../../state/clock.js';
import type { ProbeRecord } from '../../state/health.js';
import type { ObservedWorld } from '../../state/observed.js';
import type { DesiredSpec, PoolSpec } from '../../state/spec/index.js';
import type { SpecState } from '../config/specSource.js';
import type { Metrics } from '../observability/metrics.js';
import { engineEndpoint, type SelfLocation } from '../runtime/addressing.js';
import type { StreamRegistry } from '../streams/registry.js';
import type { LoggedAction } from './actionLog.js';
import type { MachineTransition } from './machines.js';

// What the API, the CLI and the metrics read: each pool's status and engines as of the last pass, and
// whether the controller is ready. The tick publishes into it; nothing here acts on the world.

/** An engine as the API shows it (contract §3). */
export interface EngineInfo {
  readonly name: string;
  readonly containerId: string;
  readonly pool: string;
  readonly host: string;
  readonly port: number;
  readonly hostPort: number;
  readonly state: 'starting' | 'ready' | 'unhealthy' | 'draining';
  /** What its probes say, whatever its state: `unknown` until it first answers. */
  readonly health: 'healthy' | 'unhealthy' | 'unknown';
  readonly streams: number;
  readonly forwarded: boolean;
  readonly p2pPort?: number;
  readonly createdAt: string;
  readonly vpn?: string;
  readonly lastProbeError?: string;
  /** The container's labels (contract §4 and the template's own). */
  readonly labels: Readonly<Record<string, string>>;
}

/** Options of a {@link ReadModel}. */
export interface ReadModelOptions {
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly registry: StreamRegistry;
  readonly specState: () => SpecState;
  readonly self: () => SelfLocation;
  /** ENGINEPOOL_ENGINE_HOST: a host where engines' published ports answer. */
  readonly engineHost?: string;
  /** The probers' current records, by container id. */
  readonly probes: () => ReadonlyMap<string, ProbeRecord>;
  /** Provision requests of a pool still waiting for an engine. */
  readonly waitingProvisions: (pool: string) => number;
  /** A pool's last actions, newest first. */
  readonly actions: (pool: string) => readonly LoggedAction[];
  /** The last change of state of a pool's breaker and VPN machine. */
  readonly transitions: (pool: string) => { breaker?: MachineTransition; vpn?: MachineTransition };
  /** Called after every publication (the status page pushes it to its viewers). */
  readonly onPublish?: () => void;
}

/** One pass's facts, as the tick publishes them. */
export interface Publication {
  readonly spec: DesiredSpec;
  readonly world: ObservedWorld;
  readonly plan: Plan;
  /** The generation of each pool's document this pass acted on. */
  readonly observedGenerations: ReadonlyMap<string, number>;
  readonly problem: (pool: string) => Problem | undefined;
  readonly now: number;
}

interface EngineSource {
  readonly pool: PoolSpec;
  readonly plan: PoolPlan;
  readonly world: ObservedWorld;
}

/** The controller's last view of the world, for readers. */
export class ReadModel {
  private statuses = new Map<string, PoolStatus>();
  /** What each pool's engine list is built from, as of the last pass (built when a reader asks). */
  private sources = new Map<string, EngineSource>();
  private observed?: number;
  private dockerError?: string;

  constructor(private readonly options: ReadModelOptions) {}

  /** The spec in force (the last valid one). */
  spec(): DesiredSpec | undefined {
    return this.options.specState().spec;
  }

  /** Ready when Docker answered the last observation and a valid spec is loaded (for `/readyz`). */
  readiness(): { ready: boolean; reason: string } {
    const state = this.options.specState();
    if (!state.spec)
      return {
        ready: false,
        reason: `no valid desired-state file loaded: ${state.error?.message ?? 'not read yet'}`,
      };
    if (this.dockerError) return { ready: false, reason: this.dockerError };
    if (this.observed === undefined) return { ready: false, reason: 'Docker not observed yet' };
    return { ready: true, reason: 'ok' };
  }

  /** Docker could not be observed; returns whether this is news (the first failure or a new message). */
  dockerFailed(message: string): boolean {
    const news = this.dockerError !== message;
    this.dockerError = message;
    return news;
  }

  /** Docker answered; returns whether it had failed before. */
  dockerAnswered(at: number): boolean {
    const recovered = this.dockerError !== undefined;
    this.dockerError = undefined;
    this.observed = at;
    return recovered;
  }

  /** When Docker was last observed (ms), or undefined before the first observation. */
  observedAt(): number | undefined {
    return this.observed;
  }

  /** Status of every pool, as of the last pass. */
  poolStatuses(): PoolStatus[] {
    return [...this.statuses.values()];
  }

  poolStatus(pool: string): PoolStatus | undefined {
    return this.statuses.get(pool);
  }

  /** Engines of a pool as of the last pass, with current stream counts. */
  engines(pool: string): EngineInfo[] | undefined {
    const source = this.sources.get(pool);
    if (!source) return undefined;
    const facts = this.options.registry.facts();
    return this.engineInfo(source).map((info) => ({
      ...info,
      streams: facts.get(info.containerId)?.open ?? 0,
    }));
  }

  /** Every engine of every pool. */
  allEngines(): EngineInfo[] {
    return [...this.sources.keys()].flatMap((pool) => this.engines(pool) ?? []);
  }

  /** The last actions of `pool`, newest first. */
  lastActions(pool: string): readonly LoggedAction[] {
    return this.options.actions(pool);
  }

  /** The last change of state of the breaker and the VPN machine of `pool`. */
  transitions(pool: string): { breaker?: MachineTransition; vpn?: MachineTransition } {
    return this.options.transitions(pool);
  }

  /** Why `pool` cannot start one more engine now (requests already waiting included), or undefined. */
  provisionRefusal(pool: string): ProvisionRefusal | undefined {
    const plan = this.sources.get(pool)?.plan;
    if (!plan) {
      return {
        code: 'general_error',
        message: `pool "${pool}" has not been observed yet`,
        recoveryEtaSeconds: 5,
        canRetry: true,
        shouldWait: true,
      };
    }
    return provisionRefusal(plan, this.options.waitingProvisions(pool), this.options.clock.now());
  }

  /** Takes in one pass's view: statuses, engine sources and the pool gauges. */
  publish({ spec, world, plan, observedGenerations, problem, now }: Publication): void {
    const { metrics, registry, specState } = this.options;
    const generations = specState().generations;
    const statuses = new Map<string, PoolStatus>();
    const sources = new Map<string, EngineSource>();
    for (const pool of spec.pools) {
      const poolPlan = plan.pools.get(pool.name);
      if (!poolPlan) continue;
      const planned = plan.actions.filter((a) => a.pool === pool.name).map((a) => a.kind);
      const poolProblem = problem(pool.name);
      const previous = this.statuses.get(pool.name);
      const status = poolStatus({
        plan: poolPlan,
        planned,
        ...(poolProblem ? { problem: poolProblem } : {}),
        ...(previous ? { previous: previous.conditions } : {}),
        generation: generations.get(pool.name) ?? 1,
        observedGeneration: observedGenerations.get(pool.name) ?? 0,
        now,
      });
      statuses.set(pool.name, status);
      // Why: the API's engine objects (an ISO date each) are built when asked for, not on every pass:
      // with 1,000 engines they were a tenth of a pass.
      sources.set(pool.name, { pool, plan: poolPlan, world });
      const engines = { starting: 0, ready: 0, unhealthy: 0, draining: 0 };
      for (const { status, state } of engineStates(poolPlan))
        if (status.engine.hostPort !== undefined) engines[state]++;
      metrics.pool(pool.name, {
        engines,
        desired: status.replicas.desired,
        free: status.replicas.free,
        minFree: pool.replicas.minFree,
        max: pool.replicas.max,
        streams: registry.list().filter((s) => s.pool === pool.name).length,
        breakerState: poolPlan.snapshot.breaker.state,
        ...(poolPlan.snapshot.vpn
          ? {
              vpn: {
                phase: poolPlan.snapshot.vpn.view.phase,
                forwardedPort: poolPlan.snapshot.vpn.view.forwardedPort,
              },
            }
          : {}),
      });
    }
    for (const name of this.statuses.keys()) if (!statuses.has(name)) metrics.forgetPool(name);
    this.statuses = statuses;
    this.sources = sources;
    this.options.onPublish?.();
  }

  private engineInfo({ pool, plan, world }: EngineSource): EngineInfo[] {
    const self = this.options.self();
    const probes = this.options.probes();
    return engineStates(plan).flatMap(({ status, state }) => {
      const { engine } = status;
      const endpoint = engineEndpoint(pool, engine, world, self, this.options.engineHost);
      if (!endpoint || engine.hostPort === undefined) return [];
      const probe = probes.get(engine.containerId);
      const health =
        state === 'unhealthy' || status.phase === 'unhealthy' || status.phase === 'timedOut'
          ? 'unhealthy'
          : status.phase === 'ready'
            ? 'healthy'
            : 'unknown';
      return [
        {
          name: engine.name,
          containerId: engine.containerId,
          pool: pool.name,
          host: endpoint.host,
          port: endpoint.port,
          hostPort: engine.hostPort,
          state,
          health,
          streams: status.streams,
          forwarded: engine.forwarded,
          ...(engine.p2pPort !== undefined ? { p2pPort: engine.p2pPort } : {}),
          createdAt: iso(engine.createdAt),
          ...(engine.vpn ? { vpn: engine.vpn } : {}),
          ...(probe?.lastError && probe.consecutiveFailures > 0 ? { lastProbeError: probe.lastError } : {}),
          labels: engine.labels,
        },
      ];
    });
  }
}
