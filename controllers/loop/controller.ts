import type { Action } from '../../reconcilers/actions.js';
import type { MachineView } from '../../reconcilers/engines.js';
import { type Plan, planTick } from '../../reconcilers/plan.js';
import type { Clock } from '../../state/clock.js';
import type { BreakerView } from '../../state/machines/circuitBreaker.js';
import { isLive, type ObservedWorld } from '../../state/observed.js';
import type { DesiredSpec } from '../../state/spec/index.js';
import { engineHttpPort } from '../../state/template.js';
import type { SpecState } from '../config/specSource.js';
import type { httpGet } from '../http/client.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { engineEndpoint, type SelfLocation } from '../runtime/addressing.js';
import { isUnavailable, type Runtime, type RuntimeEvent } from '../runtime/runtime.js';
import type { StreamRegistry } from '../streams/registry.js';
import { EngineProber, type ProbeTarget } from './engineProber.js';
import { LIST_LAG_MS } from './events.js';
import { Executor, type Outcome } from './executor.js';
import { Machines } from './machines.js';
import { Observer } from './observer.js';
import { OutcomeRecorder } from './outcomeRecorder.js';
import { type ProvisionedEngine, ProvisionRefused, ProvisionRequests } from './provisions.js';
import { ReadModel } from './readModel.js';
import { RemovalFailures } from './removals.js';
import { VpnProber } from './vpnProber.js';

// The tick: spec -> observe -> probes -> machines -> reconcilers -> plan -> execute -> publish. Every
// pass derives its view from Docker; what it keeps between passes is only what Docker cannot know
// (streams, probe history, machines). What came of its actions goes to the OutcomeRecorder; what users
// read goes to the ReadModel.

/** How soon a pass in which an action failed is followed by another. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** A provision request no pass could settle yet is looked at again after this long. */
const PROVISION_RECHECK_MS = 1_000;
/** While the event stream is healthy, Docker is listed again at least this often (the safety relist). */
const RELIST_MS = 300_000;

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
  readonly docker: Runtime;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly specState: () => SpecState;
  readonly registry: StreamRegistry;
  readonly self: () => SelfLocation;
  /** ENGINEPOOL_ENGINE_HOST: a host where engines' published ports answer. */
  readonly engineHost?: string;
  /** Where engine ports are published when the template names no `hostIp` (undefined: everywhere). */
  readonly defaultHostIp?: () => string | undefined;
  /** Docker calls in flight at once when acting. */
  readonly concurrency?: number;
  /** Asks the loop for another pass soon (events, probe transitions, machine changes). */
  readonly wake: (reason: string) => void;
  /** Called after every publication of the read model (the status page pushes it to its viewers). */
  readonly onPublish?: () => void;
  /** The HTTP client of the engine and Gluetun probes; the real one unless a test injects another. */
  readonly httpGet?: typeof httpGet;
  /**
   * When Docker's event stream was last connected (undefined while down). Given, a pass in which no
   * container changed reuses the last observation rather than listing again; absent, every pass lists.
   */
  readonly eventStreamSince?: () => number | undefined;
}

/** The controller: one reconcile pass at a time; readers use its {@link ReadModel}. */
export class Controller {
  /** What the API and the CLI read. */
  readonly view: ReadModel;
  private readonly machines: Machines;
  private readonly prober: EngineProber;
  private readonly vpnProber: VpnProber;
  private readonly executor: Executor;
  private readonly observer: Observer;
  private readonly outcomes: OutcomeRecorder;
  private readonly provisions: ProvisionRequests;
  private readonly removals: RemovalFailures;
  private readonly startedAt: number;
  private readonly observedGenerations = new Map<string, number>();
  private readonly blockedLogged = new Map<string, string>();
  private readonly unknownPoolsLogged = new Set<string>();

  constructor(private readonly options: ControllerOptions) {
    const { clock, logger, docker, metrics } = options;
    this.startedAt = clock.now();
    this.machines = new Machines(clock, logger, (pool) => options.wake(`machines of ${pool} changed`));
    this.prober = new EngineProber({
      clock,
      logger,
      httpGet: options.httpGet,
      onTransition: (target, transition, record) =>
        this.onProbeTransition(target, transition, record.lastError),
    });
    this.vpnProber = new VpnProber({
      docker,
      clock,
      logger,
      httpGet: options.httpGet,
      onResult: (pool, result, at) => this.machines.vpnProbed(pool, result, at),
    });
    this.executor = new Executor({
      docker,
      clock,
      logger,
      concurrency: options.concurrency ?? 8,
      ...(options.defaultHostIp ? { defaultHostIp: options.defaultHostIp } : {}),
    });
    this.observer = new Observer(
      docker,
      () => clock.now(),
      options.eventStreamSince
        ? { streamSince: options.eventStreamSince, relistMs: RELIST_MS, settleMs: LIST_LAG_MS }
        : undefined,
    );
    this.outcomes = new OutcomeRecorder({
      clock,
      logger,
      metrics,
      machines: this.machines,
      onRestarted: (containerId) => {
        this.prober.reset(containerId);
        this.observer.invalidate(containerId);
      },
    });
    this.provisions = new ProvisionRequests({ clock });
    this.removals = new RemovalFailures(logger);
    this.view = new ReadModel({
      clock,
      metrics,
      registry: options.registry,
      specState: options.specState,
      self: options.self,
      ...(options.engineHost !== undefined ? { engineHost: options.engineHost } : {}),
      probes: () => this.prober.view(),
      waitingProvisions: (pool) => this.provisions.count(pool),
      actions: (pool) => this.outcomes.actions(pool),
      transitions: (pool) => this.machines.transitions(pool),
      ...(options.onPublish ? { onPublish: options.onPublish } : {}),
    });
  }

  private onProbeTransition(
    target: ProbeTarget,
    transition: 'ready' | 'failing' | 'recovered',
    error?: string,
  ): void {
    const log = this.options.logger.child({ pool: target.pool, engine: target.name });
    if (transition === 'ready') {
      log.info('engine ready');
      this.outcomes.engineReady(target.pool);
    } else if (transition === 'failing') {
      log.warn({ error }, 'engine unhealthy');
    } else {
      log.info('engine answers again');
    }
    this.options.wake(`${target.name} ${transition}`);
  }

  /**
   * Asks for one more engine of `pool`, started by the next pass on top of what minFree wants; resolves
   * with it once started. Rejects at once with {@link ProvisionRefused} when the pool cannot take it.
   */
  provision(pool: string): Promise<ProvisionedEngine> {
    const refusal = this.view.provisionRefusal(pool);
    if (refusal) return Promise.reject(new ProvisionRefused(refusal));
    const engine = this.provisions.add(pool);
    this.options.wake(`one more engine of ${pool} requested`);
    return engine;
  }

  /** Closes the breaker of `pool` by hand (the API's reset route); returns its view after. */
  resetBreaker(pool: string): BreakerView | undefined {
    this.machines.resetBreaker(pool);
    return this.machines.breakerViews().get(pool);
  }

  /** Forgets cached facts of one container (an event said it changed), or of all (after a gap). */
  invalidate(containerId?: string): void {
    if (containerId === undefined) this.observer.invalidateAll();
    else this.observer.invalidate(containerId);
  }

  /** Some container changed (an event said so): the next pass lists Docker again. */
  containersChanged(event: RuntimeEvent): void {
    this.observer.changed(event);
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
      if (this.view.dockerFailed(isUnavailable(error) ? message : `Docker observation failed: ${message}`))
        logger.error({ err: message }, 'cannot observe Docker; nothing is changed until it answers');
      metrics.dockerReachable(false);
      for (const pool of spec.pools)
        metrics.reconciled(pool.name, 'error', (performance.now() - started) / 1000, clock.now());
      throw error;
    }
    if (this.view.dockerAnswered(world.observedAt)) {
      logger.info('Docker answers again; circuit breakers start over');
      this.machines.resetBreakers();
    }
    metrics.dockerReachable(true);
    // One clock reading per pass: the observation's. Every decision below is taken as of then.
    const now = world.observedAt;

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
    const publish = () =>
      this.view.publish({
        spec,
        world,
        plan,
        observedGenerations: this.observedGenerations,
        problem: (pool) => this.outcomes.problem(pool),
        now,
      });
    // Why: acting can take seconds (slow start, a busy Docker); what this pass saw is shown at once.
    publish();
    const planned = performance.now();
    const poolsByName = new Map(spec.pools.map((p) => [p.name, p]));
    const outcomes = await this.executor.execute(
      plan.actions,
      (name) => poolsByName.get(name),
      () => this.options.wake('image pull finished'),
      (retried) => {
        this.outcomes.record(retried);
        this.removals.record(retried, this.options.clock.now());
        this.options.wake('a removal retry finished');
      },
    );
    // Why: what this pass did shows in Docker's list only a little later, and its events may not have
    // arrived yet; the next passes must list again, not reuse this pass's observation.
    if (plan.actions.length > 0) this.observer.changed();
    this.outcomes.record(outcomes);
    this.removals.record(outcomes, now);
    const waiting = this.provisions.settle(
      asked,
      plan,
      outcomes,
      (pool, hostPort) => {
        const spec = poolsByName.get(pool);
        return spec ? engineHttpPort(spec, hostPort) : hostPort;
      },
      now,
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
        now,
      );
      this.observedGenerations.set(pool.name, specState.generations.get(pool.name) ?? 1);
    }
    publish();
    // Why: a failed action is retried soon by a fresh plan, but never in a hot loop.
    const retryAt = outcomes.some((o) => !o.ok && !o.skipped) ? now + RETRY_AFTER_FAILURE_MS : undefined;
    // Why: a provision request this pass could neither answer nor refuse (the room went to other
    // creates, a pull is running) is looked at again soon, not only at the next resync.
    const provisionAt = waiting > 0 ? now + PROVISION_RECHECK_MS : undefined;
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
}
