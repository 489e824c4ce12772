import { describeBreaker } from '../state/machines/circuitBreaker.js';
import { plural } from '../state/words.js';
import type { PoolPlan } from './plan.js';

// Whether a pool can start one more engine on request (`POST /provision/acestream`), and if not, why,
// in the codes proxies built against acestream-orchestrator act on. Pure: read from the last plan.

/** The codes of acestream-orchestrator's provisioning errors. */
export type RefusalCode = 'circuit_breaker' | 'vpn_disconnected' | 'max_capacity' | 'general_error';

/** Why one more engine cannot be started now (the `detail` of a 503 from `/provision/acestream`). */
export interface ProvisionRefusal {
  readonly code: RefusalCode;
  readonly message: string;
  /** When trying again may succeed, in seconds; null when nothing can be promised. */
  readonly recoveryEtaSeconds: number | null;
  /** The same request may succeed later without any change by a person. */
  readonly canRetry: boolean;
  /** The caller should wait for the condition to clear rather than give up. */
  readonly shouldWait: boolean;
}

// Why: a VPN's reconnection time is not knowable; acestream-orchestrator told proxies 60 s, and proxies
// built against it wait about that long, so the same estimate keeps their behaviour.
const VPN_RECOVERY_ESTIMATE_SECONDS = 60;

/**
 * Why `plan`'s pool cannot take one more engine now, with `pending` requests already queued, or
 * undefined when it can. Checked in order: VPN, circuit breaker, capacity (max and usable ports).
 */
export function provisionRefusal(plan: PoolPlan, pending: number, now: number): ProvisionRefusal | undefined {
  const { snapshot } = plan;
  const { pool, breaker, vpn } = snapshot;
  if (vpn && !vpn.usable) {
    return {
      code: 'vpn_disconnected',
      message: `${vpn.holdReason ?? 'the VPN is not ready'}; engines of pool "${pool.name}" cannot start until it is back`,
      recoveryEtaSeconds: VPN_RECOVERY_ESTIMATE_SECONDS,
      canRetry: true,
      shouldWait: true,
    };
  }
  if (breaker.createsAllowed === 0) {
    const waitMs =
      breaker.retryAt !== undefined
        ? breaker.retryAt - now
        : pool.template.health.startupTimeoutSeconds * 1000;
    return {
      code: 'circuit_breaker',
      message: `pool "${pool.name}": ${describeBreaker(breaker)}`,
      recoveryEtaSeconds: Math.max(0, Math.ceil(waitMs / 1000)),
      canRetry: breaker.state !== 'open',
      shouldWait: true,
    };
  }
  const running = snapshot.engines.filter((s) => s.phase !== 'exited' && s.phase !== 'timedOut').length;
  const cap = Math.min(pool.replicas.max, snapshot.ports.capacity);
  if (running + pending >= cap) {
    const why =
      cap < pool.replicas.max
        ? `only ${snapshot.ports.capacity} usable host ports in ${pool.hostRange.start}-${pool.hostRange.end}`
        : `max ${pool.replicas.max}`;
    return {
      code: 'max_capacity',
      message: `pool "${pool.name}" runs ${plural(running, 'engine')}${pending > 0 ? ` and ${pending} more are being started` : ''}: ${why}; wait for streams to end or raise replicas.max`,
      recoveryEtaSeconds: null,
      canRetry: false,
      shouldWait: true,
    };
  }
  return undefined;
}
