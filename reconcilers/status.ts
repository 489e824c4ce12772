import { iso } from '../state/clock.js';
import { describeBreaker } from '../state/machines/circuitBreaker.js';
import { plural } from '../state/words.js';
import { type EngineState, type EngineStatus, engineState } from './engines.js';
import type { PoolPlan } from './plan.js';
import { stuckMessage } from './stuck.js';

// A pool's status, Kubernetes style: counts and conditions computed from the plan of a tick. Pure, like
// the ReplicaSet controller's calculateStatus.

/** A Kubernetes-style condition. */
export interface Condition {
  readonly type: 'Ready' | 'Progressing' | 'Degraded' | 'ScalingLimited';
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
}

/** The latest provisioning problem of a pool, until an engine becomes ready again. */
export interface Problem {
  readonly reason: string;
  readonly message: string;
  readonly at: number;
}

/** The status of one pool (contract §3, `GET /api/v1/pools/{pool}`). */
export interface PoolStatus {
  readonly name: string;
  readonly generation: number;
  readonly observedGeneration: number;
  readonly replicas: {
    readonly total: number;
    readonly ready: number;
    readonly free: number;
    readonly used: number;
    readonly starting: number;
    readonly unhealthy: number;
    readonly draining: number;
    readonly desired: number;
    readonly minFree: number;
    readonly min: number;
    readonly max: number;
  };
  readonly conditions: readonly Condition[];
  /** Always an object, so clients can read `vpn.phase`; `disabled` for a pool without a VPN. */
  readonly vpn: {
    readonly enabled: boolean;
    readonly container: string | null;
    readonly phase: string;
    readonly forwardedPort: number | null;
    readonly publicIp: string | null;
    readonly lastError: string | null;
  };
  readonly circuitBreaker: {
    readonly state: string;
    readonly failures: number;
    readonly retryAt?: string;
    readonly lastFailure?: string;
  };
}

/** Everything {@link poolStatus} reads. */
export interface PoolStatusInput {
  readonly plan: PoolPlan;
  /** Kinds of the actions planned for this pool in this tick. */
  readonly planned: readonly ('create' | 'remove' | 'restart')[];
  readonly problem?: Problem;
  readonly previous?: readonly Condition[];
  readonly generation: number;
  readonly observedGeneration: number;
  readonly now: number;
}

/** The API state of each engine that Docker runs (exited containers are left out). */
export function engineStates(plan: PoolPlan): { status: EngineStatus; state: EngineState }[] {
  const usable = plan.snapshot.vpn?.usable ?? true;
  return plan.snapshot.engines
    .filter((s) => s.phase !== 'exited')
    .map((status) => ({ status, state: engineState(status, usable) }));
}

/** Computes a pool's status. */
export function poolStatus(input: PoolStatusInput): PoolStatus {
  const { plan, now } = input;
  const { snapshot } = plan;
  const { pool, breaker } = snapshot;
  const engines = engineStates(plan);
  const count = (state: EngineState) => engines.filter((e) => e.state === state).length;
  const ready = count('ready');
  const free = engines.filter((e) => e.state === 'ready' && e.status.streams === 0).length;
  const used = engines.filter((e) => e.status.streams > 0).length;
  const starting = count('starting');
  const { minFree, min, max } = pool.replicas;
  const vpn = snapshot.vpn;
  const breakerMessage = describeBreaker(breaker);

  const conditions: Omit<Condition, 'lastTransitionTime'>[] = [];
  if (vpn && !vpn.usable) {
    conditions.push({
      type: 'Ready',
      status: 'False',
      reason: 'VpnNotReady',
      message: vpn.holdReason ?? 'VPN not ready',
    });
  } else if (free >= minFree) {
    conditions.push({
      type: 'Ready',
      status: 'True',
      reason: 'MinFreeAvailable',
      message: `${plural(free, 'free engine')} ready (minFree ${minFree})`,
    });
  } else if (plan.limit) {
    conditions.push({
      type: 'Ready',
      status: 'False',
      reason: plan.limit.reason,
      message: plan.limit.message,
    });
  } else if (breaker.state !== 'closed') {
    conditions.push({ type: 'Ready', status: 'False', reason: 'CircuitOpen', message: breakerMessage });
  } else {
    conditions.push({
      type: 'Ready',
      status: 'False',
      reason: starting > 0 ? 'EnginesStarting' : 'NotEnoughFree',
      message: `${free} of minFree ${minFree} free engines ready${starting > 0 ? `, ${starting} starting` : ''}`,
    });
  }

  const rolling = snapshot.engines.some((s) => s.outdated !== undefined && s.phase !== 'exited');
  if (rolling) {
    conditions.push({
      type: 'Progressing',
      status: 'True',
      reason: 'RollingUpdate',
      message: 'replacing engines made from an older template',
    });
  } else if (input.planned.includes('create') || starting > 0) {
    conditions.push({
      type: 'Progressing',
      status: 'True',
      reason: 'ScalingUp',
      message: `${plural(plan.desired, 'engine')} wanted, ${starting} starting`,
    });
  } else if (input.planned.length > 0) {
    conditions.push({
      type: 'Progressing',
      status: 'True',
      reason: 'Reconciling',
      message: `${plural(input.planned.length, 'action')} this pass`,
    });
  } else if (vpn && !vpn.usable) {
    // Why: behind a VPN that is not usable nothing is started or judged; "Converged" said the pool
    // matched the file while it waited (an empty pool included).
    conditions.push({
      type: 'Progressing',
      status: 'False',
      reason: 'VpnNotReady',
      message: `nothing is started until the VPN is usable: ${vpn.holdReason ?? 'VPN not ready'}`,
    });
  } else if (plan.blocked) {
    // Why: with every create held back the pool does not match the file; "Converged" said it did.
    const { count, code, reason } = plan.blocked;
    conditions.push({
      type: 'Progressing',
      status: 'False',
      reason: code,
      message: `${count} ${count === 1 ? 'create' : 'creates'} held back: ${reason}`,
    });
  } else if (engines.length > plan.desired) {
    // Why: free engines above what is wanted go only after scaleDownDelaySeconds; until then the pool
    // does not match the file yet, and "Converged" said it did.
    conditions.push({
      type: 'Progressing',
      status: 'True',
      reason: 'ScalingDown',
      message: `${plural(engines.length, 'engine')} running, ${plan.desired} wanted: free engines go after scaleDownDelaySeconds (${pool.replicas.scaleDownDelaySeconds}s)`,
    });
  } else {
    conditions.push({
      type: 'Progressing',
      status: 'False',
      reason: 'Converged',
      message: 'the pool matches the file',
    });
  }

  if (input.problem) {
    // Why: the root cause (a missing image, engines exiting) says what to fix; the breaker is its effect.
    const breakerNote = breaker.state === 'closed' ? '' : `; ${breakerMessage}`;
    conditions.push({
      type: 'Degraded',
      status: 'True',
      reason: input.problem.reason,
      message: `${input.problem.message}${breakerNote}`,
    });
  } else if (snapshot.stuck.length > 0) {
    conditions.push({
      type: 'Degraded',
      status: 'True',
      reason: 'RemovalStuck',
      message: stuckMessage(snapshot.stuck, now),
    });
  } else if (breaker.state !== 'closed') {
    conditions.push({ type: 'Degraded', status: 'True', reason: 'CircuitOpen', message: breakerMessage });
  } else if (vpn && vpn.view.phase === 'emergency') {
    conditions.push({
      type: 'Degraded',
      status: 'True',
      reason: 'VpnDown',
      message: vpn.holdReason ?? 'VPN down',
    });
  } else if (plan.blocked?.code === 'PortsExhausted') {
    conditions.push({
      type: 'Degraded',
      status: 'True',
      reason: 'PortsExhausted',
      message: plan.blocked.reason,
    });
  } else {
    conditions.push({
      type: 'Degraded',
      status: 'False',
      reason: 'AsExpected',
      message: 'no provisioning problem',
    });
  }

  conditions.push(
    plan.limit
      ? { type: 'ScalingLimited', status: 'True', reason: plan.limit.reason, message: plan.limit.message }
      : {
          type: 'ScalingLimited',
          status: 'False',
          reason: 'WithinLimits',
          message: `${plural(plan.desired, 'engine')} wanted, max ${max}`,
        },
  );

  return {
    name: pool.name,
    generation: input.generation,
    observedGeneration: input.observedGeneration,
    replicas: {
      total: engines.length,
      ready,
      free,
      used,
      starting,
      unhealthy: count('unhealthy'),
      draining: count('draining'),
      desired: plan.desired,
      minFree,
      min,
      max,
    },
    conditions: conditions.map((c) => {
      const before = input.previous?.find((p) => p.type === c.type);
      return {
        ...c,
        lastTransitionTime: before && before.status === c.status ? before.lastTransitionTime : iso(now),
      };
    }),
    vpn:
      vpn && pool.vpn
        ? {
            enabled: true,
            container: pool.vpn.gluetun.container,
            phase: vpn.view.phase,
            forwardedPort: vpn.view.forwardedPort,
            publicIp: vpn.view.publicIp,
            lastError: vpn.view.lastError,
          }
        : {
            enabled: false,
            container: null,
            phase: 'disabled',
            forwardedPort: null,
            publicIp: null,
            lastError: null,
          },
    circuitBreaker: {
      state: breaker.state,
      failures: breaker.failures,
      ...(breaker.retryAt !== undefined ? { retryAt: iso(breaker.retryAt) } : {}),
      ...(breaker.lastFailure ? { lastFailure: breaker.lastFailure } : {}),
    },
  };
}
