import { type Action, type FailureReason, formatAction } from '../reconcilers/actions.js';
import type { MachineView } from '../reconcilers/engines.js';
import { type Plan, type PoolPlan, planTick } from '../reconcilers/plan.js';
import { type ProvisionRefusal, provisionRefusal } from '../reconcilers/provision.js';
import { engineStates, type PoolStatus, type Problem, poolStatus } from '../reconcilers/status.js';
import type { Clock } from '../state/clock.js';
import { isLive, type ObservedWorld } from '../state/observed.js';
import type { DesiredSpec, PoolSpec } from '../state/spec.js';
import { engineHttpPort } from '../state/template.js';
import { engineEndpoint, type SelfLocation } from './addressing.js';
import { type DockerPort, isUnavailable } from './docker.js';
import { Executor, type Outcome } from './executor.js';
import type { Logger } from './logger.js';
import { Machines } from './machines.js';
import type { Metrics } from './metrics.js';
import { Observer } from './observer.js';
import { EngineProber, type ProbeTarget } from './probes.js';
import { type ProvisionedEngine, ProvisionRefused, ProvisionRequests } from './provisions.js';
import { RemovalFailures } from './removals.js';
import type { SpecState } from './specSource.js';
import type { StreamRegistry } from './streams.js';
import { VpnProber } from './vpnProbe.js';

// The reconcile pass: spec -> observe -> probes -> machines -> reconcilers -> plan -> execute -> status.
// Every pass derives its view from Docker; what it keeps between passes is only what Docker cannot
// know (streams, probe history, machines) and what users read (status).

/** How soon a pass in which an action failed is followed by another. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** A provision request no pass could settle yet is looked at again after this long. */
const PROVISION_RECHECK_MS = 1_000;

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

/** What one pass did. */
export interface TickResult {
  readonly actions: readonly Action[];
  readonly outcomes: readonly Outcome[];
  readonly requeueAt?: number;
  /** Set when the file is not valid (the pass ran on the last valid spec, or did nothing without one). */
  readonly specError?: string;
}

/** Options of a {@link Controller}. */
export interface ControllerOptions {
  readonly docker: DockerPort;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly specState: () => SpecState;
  readonly registry: StreamRegistry;
  readonly self: () => SelfLocation;
  /** ENGINEPOOL_ENGINE_HOST: a host where engines' published ports answer. */
  readonly engineHost?: string;
  /** Docker calls in flight at once when acting. */
  readonly concurrency?: number;
  /** Asks the loop for another pass soon (events, probe transitions, machine changes). */
  readonly wake: (reason: string) => void;
}

/** The controller: one reconcile pass at a time, and the status it computed last. */
export class Controller {
  readonly machines: Machines;
  readonly prober: EngineProber;
  readonly vpnProber: VpnProber;
  readonly executor: Executor;
  readonly observer: Observer;
  private readonly provisions: ProvisionRequests;
  private readonly removals: RemovalFailures;
  private readonly startedAt: number;
  private world?: ObservedWorld;
  private statuses = new Map<string, PoolStatus>();
  /** What each pool's engine list is built from, as of the last pass (built when the API asks). */
  private engineSources = new Map<string, { pool: PoolSpec; plan: PoolPlan; world: ObservedWorld }>();
  private readonly problems = new Map<string, Problem>();
  private readonly observedGenerations = new Map<string, number>();
  private readonly blockedLogged = new Map<string, string>();
  private readonly unknownPoolsLogged = new Set<string>();
  private dockerError?: string;

  constructor(private readonly options: ControllerOptions) {
    const { clock, logger, docker } = options;
    this.startedAt = clock.now();
    this.machines = new Machines(clock, logger, (pool) => options.wake(`machines of ${pool} changed`));
    this.prober = new EngineProber({
      clock,
      logger,
      onTransition: (target, transition, record) =>
        this.onProbeTransition(target, transition, record.lastError),
    });
    this.vpnProber = new VpnProber({
      docker,
      clock,
      logger,
      onResult: (pool, result, at) => this.machines.vpnProbed(pool, result, at),
    });
    this.executor = new Executor({ docker, clock, logger, concurrency: options.concurrency ?? 8 });
    this.observer = new Observer(docker, () => clock.now());
    this.provisions = new ProvisionRequests({ clock });
    this.removals = new RemovalFailures(logger);
  }

  private onProbeTransition(
    target: ProbeTarget,
    transition: 'ready' | 'failing' | 'recovered',
    error?: string,
  ): void {
    const log = this.options.logger.child({ pool: target.pool, engine: target.name });
    if (transition === 'ready') {
      log.info('engine ready');
      this.machines.provisioningSucceeded(target.pool);
      this.problems.delete(target.pool);
    } else if (transition === 'failing') {
      log.warn({ error }, 'engine unhealthy');
    } else {
      log.info('engine answers again');
    }
    this.options.wake(`${target.name} ${transition}`);
  }

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
    if (!this.world) return { ready: false, reason: 'Docker not observed yet' };
    return { ready: true, reason: 'ok' };
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
    const source = this.engineSources.get(pool);
    if (!source) return undefined;
    const facts = this.options.registry.facts();
    return this.engineInfo(source.pool, source.plan, source.world, this.options.self()).map((info) => ({
      ...info,
      streams: facts.get(info.containerId)?.open ?? 0,
    }));
  }

  /** Every engine of every pool. */
  allEngines(): EngineInfo[] {
    return [...this.engineSources.keys()].flatMap((pool) => this.engines(pool) ?? []);
  }

  /** When Docker was last observed (ms), or undefined before the first observation. */
  observedAt(): number | undefined {
    return this.world?.observedAt;
  }

  /** Why `pool` cannot start one more engine now (requests already waiting included), or undefined. */
  provisionRefusal(pool: string): ProvisionRefusal | undefined {
    const plan = this.engineSources.get(pool)?.plan;
    if (!plan) {
      return {
        code: 'general_error',
        message: `pool "${pool}" has not been observed yet`,
        recoveryEtaSeconds: 5,
        canRetry: true,
        shouldWait: true,
      };
    }
    return provisionRefusal(plan, this.provisions.count(pool), this.options.clock.now());
  }

  /**
   * Asks for one more engine of `pool`, started by the next pass on top of what minFree wants; resolves
   * with it once started. Rejects at once with {@link ProvisionRefused} when the pool cannot take it.
   */
  provision(pool: string): Promise<ProvisionedEngine> {
    const refusal = this.provisionRefusal(pool);
    if (refusal) return Promise.reject(new ProvisionRefused(refusal));
    const engine = this.provisions.add(pool);
    this.options.wake(`one more engine of ${pool} requested`);
    return engine;
  }

  /** Stops timers and machines (the engines keep running) and refuses waiting provision requests. */
  close(): void {
    this.provisions.close();
    this.prober.close();
    this.vpnProber.close();
    this.machines.stop();
  }

  /** One reconcile pass. Throws when Docker cannot be reached (the loop backs off and retries). */
  async tickOnce(): Promise<TickResult> {
    const { clock, logger, metrics, registry } = this.options;
    const specState = this.options.specState();
    const specError = specState.error?.message;
    const spec = specState.spec;
    if (!spec) return { actions: [], outcomes: [], ...(specError ? { specError } : {}) };
    const started = performance.now();

    let world: ObservedWorld;
    try {
      world = await this.observer.observe(spec);
    } catch (error) {
      const message = (error as Error).message;
      if (this.dockerError !== message)
        logger.error({ err: message }, 'cannot observe Docker; nothing is changed until it answers');
      this.dockerError = isUnavailable(error) ? message : `Docker observation failed: ${message}`;
      metrics.dockerReachable(false);
      for (const pool of spec.pools)
        metrics.reconciled(pool.name, 'error', (performance.now() - started) / 1000, clock.now());
      throw error;
    }
    if (this.dockerError) {
      logger.info('Docker answers again; circuit breakers start over');
      this.machines.resetBreakers();
    }
    this.dockerError = undefined;
    metrics.dockerReachable(true);
    this.world = world;
    const now = clock.now();

    const liveIds = new Set(world.engines.filter((e) => isLive(e.state)).map((e) => e.containerId));
    for (const stream of registry.endMissing(liveIds)) {
      logger.info(
        { pool: stream.pool, engine: stream.engine, stream: stream.id },
        'stream ended: its engine is gone',
      );
    }
    this.removals.sync(world);
    this.machines.sync(spec);
    this.vpnProber.sync(spec.pools);
    this.prober.sync(this.probeTargets(spec, world), new Set(world.engines.map((e) => e.containerId)));

    const asked = this.provisions.snapshot();
    const view: MachineView = {
      probes: this.prober.view(),
      streams: registry.facts(),
      poolLastStreamEndedAt: registry.poolFacts(),
      breakers: this.machines.breakerViews(),
      vpns: this.machines.vpnViews(),
      setAsidePorts: this.executor.setAsidePorts(),
      countFailuresSince: this.startedAt,
      provisionRequests: new Map([...asked].map(([pool, requests]) => [pool, requests.length])),
      removalFailures: this.removals.view(),
    };
    const observed = performance.now();
    const plan = planTick({ spec, world, view, now });
    this.logBlocked(plan);
    const planned = performance.now();
    const poolsByName = new Map(spec.pools.map((p) => [p.name, p]));
    const outcomes = await this.executor.execute(
      plan.actions,
      (name) => poolsByName.get(name),
      () => this.options.wake('image pull finished'),
    );
    this.record(outcomes);
    this.removals.record(outcomes, clock.now());
    const waiting = this.provisions.settle(
      asked,
      plan,
      outcomes,
      (pool, hostPort) => {
        const spec = poolsByName.get(pool);
        return spec ? engineHttpPort(spec, hostPort) : hostPort;
      },
      clock.now(),
    );

    const seconds = (performance.now() - started) / 1000;
    logger.debug(
      {
        observeMs: Math.round(observed - started),
        planMs: Math.round((planned - observed) * 10) / 10,
        actMs: Math.round(performance.now() - planned),
        actions: plan.actions.length,
      },
      'pass',
    );
    for (const pool of spec.pools) {
      const failed = outcomes.some((o) => !o.ok && !o.skipped && o.action.pool === pool.name);
      metrics.reconciled(
        pool.name,
        failed ? 'error' : plan.requeueAt !== undefined ? 'requeue_after' : 'success',
        seconds,
        clock.now(),
      );
      this.observedGenerations.set(pool.name, specState.generations.get(pool.name) ?? 1);
    }
    this.updateStatus(spec, world, plan, specState);
    // Why: a failed action is retried soon by a fresh plan, but never in a hot loop.
    const retryAt = outcomes.some((o) => !o.ok && !o.skipped)
      ? clock.now() + RETRY_AFTER_FAILURE_MS
      : undefined;
    // Why: a provision request this pass could neither answer nor refuse (the room went to other
    // creates, a pull is running) is looked at again soon, not only at the next resync.
    const provisionAt = waiting > 0 ? clock.now() + PROVISION_RECHECK_MS : undefined;
    const requeueAt = Math.min(
      plan.requeueAt ?? Number.POSITIVE_INFINITY,
      retryAt ?? Number.POSITIVE_INFINITY,
      provisionAt ?? Number.POSITIVE_INFINITY,
    );
    return {
      actions: plan.actions,
      outcomes,
      ...(Number.isFinite(requeueAt) ? { requeueAt } : {}),
      ...(specError ? { specError } : {}),
    };
  }

  private probeTargets(spec: DesiredSpec, world: ObservedWorld): ProbeTarget[] {
    const self = this.options.self();
    const targets: ProbeTarget[] = [];
    for (const pool of spec.pools) {
      for (const engine of world.enginesByPool.get(pool.name) ?? []) {
        if (!isLive(engine.state)) continue;
        const endpoint = engineEndpoint(pool, engine, world, self, this.options.engineHost);
        if (!endpoint) continue;
        targets.push({
          containerId: engine.containerId,
          pool: pool.name,
          name: engine.name,
          url: `http://${endpoint.host}:${endpoint.port}${pool.template.health.path}`,
          settings: pool.template.health,
        });
      }
    }
    return targets;
  }

  private logBlocked(plan: Plan): void {
    const unseen = plan.unknownPools.filter((pool) => !this.unknownPoolsLogged.has(pool));
    if (unseen.length > 0) {
      for (const pool of unseen) this.unknownPoolsLogged.add(pool);
      this.options.logger.info(
        { pools: unseen },
        'managed containers of pools not in this file are left alone (another controller may own them; remove them by hand if they are yours)',
      );
    }
    for (const [pool, poolPlan] of plan.pools) {
      const reason = poolPlan.blocked?.reason ?? poolPlan.limit?.message ?? '';
      if (this.blockedLogged.get(pool) === reason) continue;
      this.blockedLogged.set(pool, reason);
      const log = this.options.logger.child({ pool });
      if (poolPlan.blocked)
        log.warn(
          { held: poolPlan.blocked.count, code: poolPlan.blocked.code },
          `creates held back: ${reason}`,
        );
      else if (poolPlan.limit) log.warn({ reason: poolPlan.limit.reason }, `capacity limited: ${reason}`);
    }
  }

  private record(outcomes: readonly Outcome[]): void {
    const { logger, metrics } = this.options;
    const breakers = this.machines.breakerViews();
    for (const outcome of outcomes) {
      const { action } = outcome;
      const log = logger.child({ pool: action.pool });
      const fields = { action: action.kind, engine: action.name, reason: action.reason };
      if (outcome.ok) {
        metrics.action(action.pool, action.kind, true);
        log.info({ ...fields, containerId: outcome.containerId?.slice(0, 12) }, formatAction(action));
        if (action.kind === 'restart') {
          this.prober.reset(action.containerId);
          this.observer.invalidate(action.containerId);
        }
        if (action.kind === 'remove' && action.failure)
          this.failed(action.pool, action.failure, action.reason);
        if (action.kind === 'create' && breakers.get(action.pool)?.state === 'halfOpen')
          this.machines.trialStarted(action.pool);
        continue;
      }
      if (outcome.skipped) {
        log.debug({ ...fields, why: outcome.skipped }, `skipped: ${formatAction(action)}`);
        if (/being pulled|pulling it/.test(outcome.skipped)) {
          this.problems.set(action.pool, {
            reason: 'ImagePulling',
            message: outcome.skipped,
            at: this.options.clock.now(),
          });
        }
        continue;
      }
      metrics.action(action.pool, action.kind, false);
      log.warn(
        { ...fields, error: outcome.error, failure: outcome.failure },
        `failed: ${formatAction(action)}: ${outcome.error}`,
      );
      if (outcome.failure) this.failed(action.pool, outcome.failure, outcome.error);
    }
  }

  private failed(pool: string, reason: FailureReason, message: string): void {
    this.options.metrics.provisioningFailure(pool, reason);
    this.machines.provisioningFailed(pool, `${reason}: ${message}`);
    this.problems.set(pool, { reason, message, at: this.options.clock.now() });
  }

  private updateStatus(spec: DesiredSpec, world: ObservedWorld, plan: Plan, specState: SpecState): void {
    const now = this.options.clock.now();
    const statuses = new Map<string, PoolStatus>();
    const sources = new Map<string, { pool: PoolSpec; plan: PoolPlan; world: ObservedWorld }>();
    for (const pool of spec.pools) {
      const poolPlan = plan.pools.get(pool.name);
      if (!poolPlan) continue;
      const planned = plan.actions.filter((a) => a.pool === pool.name).map((a) => a.kind);
      const problem = this.problems.get(pool.name);
      const status = poolStatus({
        plan: poolPlan,
        planned,
        ...(problem ? { problem } : {}),
        ...(this.statuses.get(pool.name) ? { previous: this.statuses.get(pool.name)!.conditions } : {}),
        generation: specState.generations.get(pool.name) ?? 1,
        observedGeneration: this.observedGenerations.get(pool.name) ?? 0,
        now,
      });
      statuses.set(pool.name, status);
      // Why: the API's engine objects (an ISO date each) are built when asked for, not on every pass:
      // with 1,000 engines they were a tenth of a pass.
      sources.set(pool.name, { pool, plan: poolPlan, world });
      const engines = { starting: 0, ready: 0, unhealthy: 0, draining: 0 };
      for (const { status, state } of engineStates(poolPlan))
        if (status.engine.hostPort !== undefined) engines[state]++;
      this.options.metrics.pool(pool.name, {
        engines,
        desired: status.replicas.desired,
        free: status.replicas.free,
        minFree: pool.replicas.minFree,
        max: pool.replicas.max,
        streams: this.options.registry.list().filter((s) => s.pool === pool.name).length,
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
    for (const name of this.statuses.keys()) if (!statuses.has(name)) this.options.metrics.forgetPool(name);
    this.statuses = statuses;
    this.engineSources = sources;
  }

  private engineInfo(
    pool: PoolSpec,
    poolPlan: PoolPlan,
    world: ObservedWorld,
    self: SelfLocation,
  ): EngineInfo[] {
    return engineStates(poolPlan).flatMap(({ status, state }) => {
      const { engine } = status;
      const endpoint = engineEndpoint(pool, engine, world, self, this.options.engineHost);
      if (!endpoint || engine.hostPort === undefined) return [];
      const probe = this.prober.view().get(engine.containerId);
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
          createdAt: new Date(engine.createdAt).toISOString(),
          ...(engine.vpn ? { vpn: engine.vpn } : {}),
          ...(probe?.lastError && probe.consecutiveFailures > 0 ? { lastProbeError: probe.lastError } : {}),
          labels: engine.labels,
        },
      ];
    });
  }
}
