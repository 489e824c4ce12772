import { type Actor, createActor } from 'xstate';
import { type Clock, iso } from '../../state/clock.js';
import { type BreakerView, breakerView, circuitBreakerMachine } from '../../state/machines/circuitBreaker.js';
import { type VpnView, vpnLifecycleMachine, vpnView } from '../../state/machines/vpnLifecycle.js';
import type { DesiredSpec, PoolSpec } from '../../state/spec/index.js';
import type { Logger } from '../observability/logger.js';
import type { VpnProbeResult } from './vpnProber.js';

// The running state machines: a circuit breaker per pool and a VPN lifecycle per VPN pool, as xstate
// actors on the injected clock. They follow the spec, and every change of state wakes the loop.

interface PoolMachines {
  readonly breaker: Actor<typeof circuitBreakerMachine>;
  readonly vpn?: Actor<typeof vpnLifecycleMachine>;
  templateHash: string;
  /** The last change of state of each machine, for the status page. */
  readonly transitions: { breaker?: MachineTransition; vpn?: MachineTransition };
}

/** A machine's change of state: when, from what, to what, and why. */
export interface MachineTransition {
  readonly at: number;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

/** Why a breaker entered `state`, told by the event that took it there. */
function breakerReason(
  state: string,
  event: { type: string },
  context: { failures: number; lastFailure?: string },
): string {
  if (state === 'open')
    return `${context.failures} provisioning ${context.failures === 1 ? 'failure' : 'failures'}${context.lastFailure ? `; last: ${context.lastFailure}` : ''}`;
  if (state === 'halfOpen')
    return event.type === 'TEMPLATE_CHANGED'
      ? 'template edited: one trial create'
      : 'cool-down over: one trial create';
  return event.type === 'RESET_REQUESTED'
    ? 'reset (by the API, or Docker answered again)'
    : 'the trial engine became ready';
}

/** Why a VPN machine entered `phase`. */
function vpnReason(phase: string, lastError: string | null): string {
  if (phase === 'emergency') return lastError ?? 'probes failed';
  if (phase === 'recovering') return 'probes answer again; waiting for it to stay up';
  return 'probes answer';
}

function breakerInput(pool: PoolSpec) {
  return {
    threshold: pool.circuitBreaker.failureThreshold,
    openMs: pool.circuitBreaker.openSeconds * 1000,
    trialMs: (pool.template.health.startupTimeoutSeconds + 10) * 1000,
  };
}

function vpnInput(pool: PoolSpec) {
  const settings = pool.vpn!.gluetun;
  return { threshold: settings.failureThreshold, recoveryMs: settings.recoverySeconds * 1000 };
}

/** The machines of every pool. */
export class Machines {
  private readonly pools = new Map<string, PoolMachines>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly onChange: (pool: string) => void,
  ) {}

  /** Creates, updates and stops machines to match the spec. */
  sync(spec: DesiredSpec): void {
    const names = new Set(spec.pools.map((p) => p.name));
    for (const [name, machines] of this.pools) {
      if (!names.has(name)) {
        machines.breaker.stop();
        machines.vpn?.stop();
        this.pools.delete(name);
      }
    }
    const at = this.clock.now();
    for (const pool of spec.pools) {
      const existing = this.pools.get(pool.name);
      if (!existing) {
        this.pools.set(pool.name, this.start(pool));
        continue;
      }
      existing.breaker.send({ type: 'SETTINGS_CHANGED', settings: breakerInput(pool) });
      if (existing.templateHash !== pool.templateHash) {
        existing.templateHash = pool.templateHash;
        existing.breaker.send({ type: 'TEMPLATE_CHANGED', at });
      }
      if (pool.vpn && existing.vpn) existing.vpn.send({ type: 'SETTINGS_CHANGED', settings: vpnInput(pool) });
      else if (Boolean(pool.vpn) !== Boolean(existing.vpn)) {
        existing.breaker.stop();
        existing.vpn?.stop();
        this.pools.set(pool.name, this.start(pool));
      }
    }
  }

  private start(pool: PoolSpec): PoolMachines {
    const log = this.logger.child({ pool: pool.name });
    const transitions: PoolMachines['transitions'] = {};
    let lastBreaker = 'closed';
    const breakerMachine = circuitBreakerMachine.provide({
      actions: {
        announce: ({ context, event }, { state }) => {
          const reason = breakerReason(state, event, context);
          transitions.breaker = { at: this.clock.now(), from: lastBreaker, to: state, reason };
          lastBreaker = state;
          if (state === 'open') {
            const retryAt =
              context.openedAt === undefined ? undefined : iso(context.openedAt + context.openMs);
            log.warn(
              { failures: context.failures, lastFailure: context.lastFailure, retryAt },
              `circuit breaker opened: no creates until ${retryAt}`,
            );
          } else {
            log.info(
              { state },
              `circuit breaker ${state === 'closed' ? 'closed' : 'half-open: one trial create'}`,
            );
          }
          this.onChange(pool.name);
        },
      },
    });
    const breaker = createActor(breakerMachine, { clock: this.clock, input: breakerInput(pool) });
    breaker.start();
    let vpn: PoolMachines['vpn'];
    if (pool.vpn) {
      let lastPhase = 'unknown';
      const vpnMachine = vpnLifecycleMachine.provide({
        actions: {
          announce: ({ context }, { phase }) => {
            const reason = vpnReason(phase, context.lastError);
            transitions.vpn = { at: this.clock.now(), from: lastPhase, to: phase, reason };
            log[phase === 'emergency' ? 'warn' : 'info'](
              { from: lastPhase, to: phase, reason: context.lastError ?? undefined },
              `VPN ${phase}`,
            );
            lastPhase = phase;
            this.onChange(pool.name);
          },
        },
      });
      vpn = createActor(vpnMachine, { clock: this.clock, input: vpnInput(pool) });
      let lastPort: number | null = null;
      // Why: a new forwarded port is a change of data, not of phase; it is noticed by comparing.
      vpn.subscribe((snapshot) => {
        const { forwardedPort } = vpnView(snapshot);
        if (forwardedPort === lastPort) return;
        if (forwardedPort !== null)
          log.info({ port: forwardedPort, previous: lastPort }, 'VPN forwarded port');
        lastPort = forwardedPort;
        this.onChange(pool.name);
      });
      vpn.start();
    }
    return { breaker, ...(vpn ? { vpn } : {}), templateHash: pool.templateHash, transitions };
  }

  /** Records a provisioning failure of a pool. */
  provisioningFailed(pool: string, reason: string): void {
    this.pools.get(pool)?.breaker.send({ type: 'PROVISION_FAILED', reason, at: this.clock.now() });
  }

  /** Records an engine of the pool becoming ready. */
  provisioningSucceeded(pool: string): void {
    this.pools.get(pool)?.breaker.send({ type: 'PROVISION_SUCCEEDED', at: this.clock.now() });
  }

  /** Records that a create went out while the breaker was half-open (the one trial). */
  trialStarted(pool: string): void {
    this.pools.get(pool)?.breaker.send({ type: 'TRIAL_STARTED', at: this.clock.now() });
  }

  /** Closes a pool's breaker on an operator's request; false when the pool is unknown. */
  resetBreaker(pool: string): boolean {
    const machines = this.pools.get(pool);
    machines?.breaker.send({ type: 'RESET_REQUESTED', at: this.clock.now() });
    return machines !== undefined;
  }

  /**
   * Closes every breaker after Docker came back from being unreachable. Why: failures just before an
   * outage are usually the dying daemon's, not the template's; a real fault opens it again.
   */
  resetBreakers(): void {
    const at = this.clock.now();
    for (const machines of this.pools.values()) machines.breaker.send({ type: 'RESET_REQUESTED', at });
  }

  /** Feeds a VPN probe's outcome to the pool's VPN machine. */
  vpnProbed(pool: string, result: VpnProbeResult, at: number): void {
    const vpn = this.pools.get(pool)?.vpn;
    if (!vpn) return;
    if (result.ok)
      vpn.send({
        type: 'PROBE_SUCCEEDED',
        at,
        forwardedPort: result.forwardedPort,
        publicIp: result.publicIp,
      });
    else vpn.send({ type: 'PROBE_FAILED', at, reason: result.reason });
  }

  /** The last change of state of a pool's breaker and VPN machine (none before the first). */
  transitions(pool: string): { breaker?: MachineTransition; vpn?: MachineTransition } {
    return this.pools.get(pool)?.transitions ?? {};
  }

  breakerViews(): Map<string, BreakerView> {
    return new Map([...this.pools].map(([name, m]) => [name, breakerView(m.breaker.getSnapshot())]));
  }

  vpnViews(): Map<string, VpnView> {
    const views = new Map<string, VpnView>();
    for (const [name, m] of this.pools) if (m.vpn) views.set(name, vpnView(m.vpn.getSnapshot()));
    return views;
  }

  /** Stops every machine. */
  stop(): void {
    for (const m of this.pools.values()) {
      m.breaker.stop();
      m.vpn?.stop();
    }
    this.pools.clear();
  }
}
