import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type Action, FAILURE_REASONS, type FailureReason } from '../../reconcilers/actions.js';

// Every metric enginepool exports, on a registry this object owns (no global registry), named the way
// controller-runtime names its own, prefixed `enginepool_`, in base units. Label values come from
// closed sets (pool names, states, operations, status codes), never from container ids.

const BREAKER_STATES = ['closed', 'open', 'halfOpen'] as const;
const VPN_PHASES = ['unknown', 'healthy', 'recovering', 'emergency'] as const;
const ENGINE_STATES = ['starting', 'ready', 'unhealthy', 'draining'] as const;
const RECONCILE_RESULTS = ['success', 'error', 'requeue_after'] as const;
const ACTION_KINDS: readonly Action['kind'][] = ['create', 'remove', 'restart'];
/** How often the event-loop delay is sampled: one timer, so a pass or a GC that holds the loop shows. */
const LOOP_SAMPLE_MS = 100;

/**
 * prom-client default metrics that `promtool check metrics` rejects (gauges ending in `_total`). Why:
 * each is the sum of its per-type twin (`nodejs_active_handles{type}`, ...), so dropping them loses nothing.
 */
const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The numbers of one pool after a tick, for the gauges. */
export interface PoolGauges {
  readonly engines: Readonly<Record<(typeof ENGINE_STATES)[number], number>>;
  readonly desired: number;
  readonly free: number;
  readonly minFree: number;
  readonly max: number;
  readonly streams: number;
  readonly breakerState: (typeof BREAKER_STATES)[number];
  readonly vpn?: { readonly phase: (typeof VPN_PHASES)[number]; readonly forwardedPort: number | null };
}

/** The metrics of one controller process. */
export class Metrics {
  readonly registry = new Registry();
  private readonly reconcileTotal = new Counter({
    name: 'enginepool_reconcile_total',
    help: 'Reconciliations per pool, by result (success, error, requeue_after).',
    labelNames: ['pool', 'result'],
    registers: [this.registry],
  });
  private readonly reconcileErrors = new Counter({
    name: 'enginepool_reconcile_errors_total',
    help: 'Reconciliations that ended in an error, per pool.',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly reconcileTime = new Histogram({
    name: 'enginepool_reconcile_time_seconds',
    help: 'Time of one reconciliation of a pool: observe, plan, act.',
    labelNames: ['pool'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly lastReconcile = new Gauge({
    name: 'enginepool_last_reconcile_timestamp_seconds',
    help: 'When the last reconciliation of any pool finished, successful or not, in Unix seconds.',
    registers: [this.registry],
  });
  private readonly engines = new Gauge({
    name: 'enginepool_engines',
    help: 'Engines per pool by state (starting, ready, unhealthy, draining).',
    labelNames: ['pool', 'state'],
    registers: [this.registry],
  });
  private readonly enginesDesired = new Gauge({
    name: 'enginepool_engines_desired',
    help: 'Engines the pool should run now: used + minFree within min and max.',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly enginesFree = new Gauge({
    name: 'enginepool_engines_free',
    help: 'Ready engines with no open stream.',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly enginesMinFree = new Gauge({
    name: 'enginepool_engines_min_free',
    help: 'The minFree the file asks for.',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly enginesMax = new Gauge({
    name: 'enginepool_engines_max',
    help: 'The max the file allows.',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly streams = new Gauge({
    name: 'enginepool_streams',
    help: 'Open streams per pool.',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly provisioningFailures = new Counter({
    name: 'enginepool_provisioning_failures_total',
    help: `Provisioning failures per pool by reason (${FAILURE_REASONS.join(', ')}); they feed the circuit breaker.`,
    labelNames: ['pool', 'reason'],
    registers: [this.registry],
  });
  private readonly actions = new Counter({
    name: 'enginepool_actions_total',
    help: 'Applied actions per pool by kind (create, remove, restart) and result (success, error).',
    labelNames: ['pool', 'kind', 'result'],
    registers: [this.registry],
  });
  private readonly breaker = new Gauge({
    name: 'enginepool_circuit_breaker_state',
    help: "1 for the pool's current circuit-breaker state (closed, open, halfOpen), 0 for the others.",
    labelNames: ['pool', 'state'],
    registers: [this.registry],
  });
  private readonly vpnPhase = new Gauge({
    name: 'enginepool_vpn_phase',
    help: "1 for the pool VPN's current phase (unknown, healthy, recovering, emergency), 0 for the others.",
    labelNames: ['pool', 'phase'],
    registers: [this.registry],
  });
  private readonly vpnForwardedPort = new Gauge({
    name: 'enginepool_vpn_forwarded_port',
    help: "The VPN's forwarded port, 0 when none is known.",
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly dockerRequests = new Counter({
    name: 'enginepool_docker_requests_total',
    help: 'Docker API requests by operation and outcome code (ok, the HTTP status, unavailable or forbidden).',
    labelNames: ['op', 'code'],
    registers: [this.registry],
  });
  private readonly dockerDuration = new Histogram({
    name: 'enginepool_docker_request_duration_seconds',
    help: 'Docker API request latency by operation.',
    labelNames: ['op'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly configReloads = new Counter({
    name: 'enginepool_config_reloads_total',
    help: 'Loads of the desired-state file by result (success, failure).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly configSuccessful = new Gauge({
    name: 'enginepool_config_last_reload_successful',
    help: 'Whether the last load of the desired-state file was valid (1) or not (0).',
    registers: [this.registry],
  });
  private readonly configSuccessTime = new Gauge({
    name: 'enginepool_config_last_reload_success_timestamp_seconds',
    help: 'When the desired-state file was last loaded successfully, in Unix seconds.',
    registers: [this.registry],
  });
  private readonly stateWriteFailures = new Counter({
    name: 'enginepool_state_write_failures_total',
    help: 'Writes of the stream state that failed (the change was refused)',
    registers: [this.registry],
  });
  private readonly stateWriteOk = new Gauge({
    name: 'enginepool_state_last_write_successful',
    help: '1 when the last write of the stream state succeeded, 0 when it failed',
    registers: [this.registry],
  });
  private readonly dockerUp = new Gauge({
    name: 'enginepool_docker_up',
    help: 'Whether the last observation of Docker succeeded (1) or not (0).',
    registers: [this.registry],
  });
  private readonly nodeReady = new Gauge({
    name: 'enginepool_node_ready',
    help: 'Swarm nodes: whether the node is ready and active (1) or not (0), by hostname.',
    labelNames: ['node'],
    registers: [this.registry],
  });
  private readonly nodeEngines = new Gauge({
    name: 'enginepool_node_engines',
    help: 'Swarm pools: engines per node (on it, or pinned to it while it is down).',
    labelNames: ['pool', 'node'],
    registers: [this.registry],
  });

  private readonly buildInfo = new Gauge({
    name: 'enginepool_build_info',
    help: 'Always 1; the labels say which enginepool (version, revision) runs on which Node.js.',
    labelNames: ['version', 'revision', 'nodejs_version'],
    registers: [this.registry],
  });
  private readonly httpRequests = new Counter({
    name: 'enginepool_http_requests_total',
    help: 'HTTP API requests by route pattern (unmatched when none), method and status code.',
    labelNames: ['route', 'method', 'code'],
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'enginepool_http_request_duration_seconds',
    help: 'HTTP API latency by route pattern and method, until the answer is written (an event stream: until it starts).',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  // Why: prom-client's nodejs_eventloop_lag_p50/p90/p99 gauges come from a histogram it resets at every
  // scrape, so each reading covers only the time since the previous scrape by anyone (two scrapes in a
  // row read 0). A cumulative histogram gives the delay over any window: rate() of its buckets.
  private readonly loopDelay = new Histogram({
    name: 'enginepool_event_loop_delay_seconds',
    help: `How late a timer due every ${LOOP_SAMPLE_MS} ms fired: how long work that became ready then waited for the event loop.`,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private loopTimer?: NodeJS.Timeout;

  /** Pools whose counters are initialised (a series at 0 makes `increase()` see the first failure). */
  private readonly pools = new Set<string>();

  constructor(options: { defaultMetrics?: boolean; build?: { version: string; revision?: string } } = {}) {
    this.buildInfo.set(
      {
        version: options.build?.version ?? 'unknown',
        revision: options.build?.revision || 'unknown',
        nodejs_version: process.version,
      },
      1,
    );
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
      this.sampleLoopDelay(performance.now() + LOOP_SAMPLE_MS);
    }
    for (const result of ['success', 'failure']) this.configReloads.inc({ result }, 0);
    this.stateWriteFailures.inc(0);
    this.stateWriteOk.set(1);
  }

  /** Arms the next sample of the event-loop delay: the timer's lateness past `due`. */
  private sampleLoopDelay(due: number): void {
    this.loopTimer = setTimeout(() => {
      const now = performance.now();
      this.loopDelay.observe(Math.max(0, now - due) / 1000);
      this.sampleLoopDelay(now + LOOP_SAMPLE_MS);
    }, LOOP_SAMPLE_MS).unref();
  }

  /** Stops sampling the event-loop delay. */
  close(): void {
    clearTimeout(this.loopTimer);
  }

  /** Starts every counter series of a pool at 0, once. */
  private known(pool: string): void {
    if (this.pools.has(pool)) return;
    this.pools.add(pool);
    for (const result of RECONCILE_RESULTS) this.reconcileTotal.inc({ pool, result }, 0);
    this.reconcileErrors.inc({ pool }, 0);
    for (const reason of FAILURE_REASONS) this.provisioningFailures.inc({ pool, reason }, 0);
    for (const kind of ACTION_KINDS)
      for (const result of ['success', 'error']) this.actions.inc({ pool, kind, result }, 0);
  }

  /** One Docker API call (wired as the Runtime's call observer). */
  readonly dockerCall = (op: string, code: string, seconds: number): void => {
    this.dockerRequests.inc({ op, code });
    this.dockerDuration.observe({ op }, seconds);
  };

  /** One answered HTTP API request (wired as the server's observer). */
  readonly httpRequest = (route: string, method: string, status: number, seconds: number): void => {
    this.httpRequests.inc({ route, method, code: String(status) });
    this.httpDuration.observe({ route, method }, seconds);
  };

  /** One reconciliation of a pool. */
  reconciled(pool: string, result: (typeof RECONCILE_RESULTS)[number], seconds: number, at: number): void {
    this.known(pool);
    this.reconcileTotal.inc({ pool, result });
    if (result === 'error') this.reconcileErrors.inc({ pool });
    this.reconcileTime.observe({ pool }, seconds);
    this.lastReconcile.set(at / 1000);
  }

  /** Whether Docker answered the last observation. */
  dockerReachable(up: boolean): void {
    this.dockerUp.set(up ? 1 : 0);
  }

  /** The swarm's nodes after an observation: availability, and engines per pool on each. */
  swarmNodes(
    nodes: readonly { node: string; ready: boolean }[],
    engines: ReadonlyMap<string, ReadonlyMap<string, number>>,
  ): void {
    this.nodeReady.reset();
    this.nodeEngines.reset();
    for (const { node, ready } of nodes) this.nodeReady.set({ node }, ready ? 1 : 0);
    for (const [pool, perNode] of engines)
      for (const { node } of nodes) this.nodeEngines.set({ pool, node }, perNode.get(node) ?? 0);
  }

  /** One applied action. */
  action(pool: string, kind: Action['kind'], ok: boolean): void {
    this.known(pool);
    this.actions.inc({ pool, kind, result: ok ? 'success' : 'error' });
  }

  /** One provisioning failure, by the breaker's reason. */
  provisioningFailure(pool: string, reason: FailureReason): void {
    this.known(pool);
    this.provisioningFailures.inc({ pool, reason });
  }

  /** One load of the desired-state file. */
  configReload(ok: boolean, at: number): void {
    this.configReloads.inc({ result: ok ? 'success' : 'failure' });
    this.configSuccessful.set(ok ? 1 : 0);
    if (ok) this.configSuccessTime.set(at / 1000);
  }

  /** One write of the stream state (wired as the registry's write observer). */
  readonly stateWrite = (ok: boolean): void => {
    if (!ok) this.stateWriteFailures.inc();
    this.stateWriteOk.set(ok ? 1 : 0);
  };

  /** Sets the gauges of a pool after a tick. */
  pool(pool: string, gauges: PoolGauges): void {
    this.known(pool);
    for (const state of ENGINE_STATES) this.engines.set({ pool, state }, gauges.engines[state]);
    this.enginesDesired.set({ pool }, gauges.desired);
    this.enginesFree.set({ pool }, gauges.free);
    this.enginesMinFree.set({ pool }, gauges.minFree);
    this.enginesMax.set({ pool }, gauges.max);
    this.streams.set({ pool }, gauges.streams);
    for (const state of BREAKER_STATES)
      this.breaker.set({ pool, state }, state === gauges.breakerState ? 1 : 0);
    if (gauges.vpn) {
      for (const phase of VPN_PHASES) this.vpnPhase.set({ pool, phase }, phase === gauges.vpn.phase ? 1 : 0);
      this.vpnForwardedPort.set({ pool }, gauges.vpn.forwardedPort ?? 0);
    }
  }

  /** Drops every series of a pool that left the file (pool names must not pile up as stale series). */
  forgetPool(pool: string): void {
    for (const metric of [
      this.enginesDesired,
      this.enginesFree,
      this.enginesMinFree,
      this.enginesMax,
      this.streams,
      this.vpnForwardedPort,
      this.reconcileErrors,
      this.reconcileTime,
    ]) {
      metric.remove({ pool });
    }
    for (const state of ENGINE_STATES) this.engines.remove({ pool, state });
    for (const state of BREAKER_STATES) this.breaker.remove({ pool, state });
    for (const phase of VPN_PHASES) this.vpnPhase.remove({ pool, phase });
    for (const result of RECONCILE_RESULTS) this.reconcileTotal.remove({ pool, result });
    for (const reason of FAILURE_REASONS) this.provisioningFailures.remove({ pool, reason });
    for (const kind of ACTION_KINDS)
      for (const result of ['success', 'error']) this.actions.remove({ pool, kind, result });
    this.pools.delete(pool);
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
