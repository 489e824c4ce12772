import type { Plan } from '../../reconcilers/plan.js';
import { type ProvisionRefusal, provisionRefusal } from '../../reconcilers/provision.js';
import type { Clock, TimerHandle } from '../../state/clock.js';
import type { Outcome } from './executor.js';

// Requests for one more engine (`POST /provision/acestream`), answered through the loop rather than
// around it: a request only raises the pool's count of requested engines; the replicas reconciler plans
// the create, the executor starts it, and the pass that started it answers the request with it.

/** An engine started for a provision request. */
export interface ProvisionedEngine {
  readonly pool: string;
  readonly containerId: string;
  readonly name: string;
  readonly hostPort: number;
  /** The port the engine listens on inside its network namespace. */
  readonly httpPort: number;
}

/** A provision request that will not be answered with an engine; `refusal` says why. */
export class ProvisionRefused extends Error {
  override name = 'ProvisionRefused';
  constructor(readonly refusal: ProvisionRefusal) {
    super(refusal.message);
  }
}

/** One waiting request. */
export interface PendingProvision {
  readonly pool: string;
  settled: boolean;
  readonly resolve: (engine: ProvisionedEngine) => void;
  readonly reject: (error: ProvisionRefused) => void;
  timer?: TimerHandle;
}

/** Options of {@link ProvisionRequests}. */
export interface ProvisionRequestsOptions {
  readonly clock: Clock;
  /** A request no pass could answer within this time is refused. */
  readonly timeoutMs?: number;
}

/** The waiting provision requests of one controller, per pool in arrival order. */
export class ProvisionRequests {
  private readonly waiting = new Map<string, PendingProvision[]>();

  constructor(private readonly options: ProvisionRequestsOptions) {}

  /** Queues a request for one more engine of `pool`; settles after the pass that started it. */
  add(pool: string): Promise<ProvisionedEngine> {
    return new Promise((resolve, reject) => {
      const request: PendingProvision = { pool, settled: false, resolve, reject };
      const timeoutMs = this.options.timeoutMs ?? 30_000;
      request.timer = this.options.clock.setTimeout(
        () =>
          this.refuse(request, {
            code: 'general_error',
            message: `no engine of pool "${pool}" could be started within ${Math.round(timeoutMs / 1000)} s; see the pool's conditions`,
            recoveryEtaSeconds: null,
            canRetry: true,
            shouldWait: false,
          }),
        timeoutMs,
      );
      this.waiting.set(pool, [...(this.waiting.get(pool) ?? []), request]);
    });
  }

  /** Requests waiting for `pool` now. */
  count(pool: string): number {
    return this.waiting.get(pool)?.length ?? 0;
  }

  /** The requests waiting now, by pool: what the pass about to run plans for. */
  snapshot(): ReadonlyMap<string, readonly PendingProvision[]> {
    return new Map([...this.waiting].map(([pool, requests]) => [pool, [...requests]]));
  }

  /**
   * Answers the requests of `asked` (the snapshot a pass planned with) from that pass's plan and outcomes,
   * in arrival order: a started create answers one with its engine, a failed one refuses one, a skipped
   * one leaves it waiting. Requests no create was planned for are refused when the pool cannot take
   * more now; otherwise they wait for the next pass. Returns how many still wait.
   */
  settle(
    asked: ReadonlyMap<string, readonly PendingProvision[]>,
    plan: Plan,
    outcomes: readonly Outcome[],
    httpPort: (pool: string, hostPort: number) => number,
    now: number,
  ): number {
    for (const [pool, requests] of asked) {
      const open = requests.filter((r) => !r.settled);
      const poolPlan = plan.pools.get(pool);
      if (!poolPlan) {
        for (const request of open) {
          this.refuse(request, {
            code: 'general_error',
            message: `pool "${pool}" is no longer in the desired-state file`,
            recoveryEtaSeconds: null,
            canRetry: false,
            shouldWait: false,
          });
        }
        continue;
      }
      const creates = outcomes.filter((o) => o.action.kind === 'create' && o.action.pool === pool);
      let next = 0;
      for (const outcome of creates) {
        const { action } = outcome;
        if (action.kind !== 'create' || !action.requested) continue;
        const request = open[next++];
        if (!request) break;
        if (outcome.ok && outcome.containerId) {
          this.answer(request, {
            pool,
            containerId: outcome.containerId,
            name: action.name,
            hostPort: action.hostPort,
            httpPort: httpPort(pool, action.hostPort),
          });
        } else if (!outcome.ok && outcome.skipped === undefined) {
          this.refuse(request, {
            code: 'general_error',
            message: `starting ${action.name} failed: ${outcome.error}`,
            recoveryEtaSeconds: 5,
            canRetry: true,
            shouldWait: true,
          });
        }
      }
      const started = creates.filter((o) => o.ok).length;
      const refusal = provisionRefusal(poolPlan, started, now);
      if (refusal) for (const request of open.slice(next)) this.refuse(request, refusal);
    }
    return [...this.waiting.values()].reduce((sum, requests) => sum + requests.length, 0);
  }

  /** Refuses every waiting request (the controller is stopping). */
  close(): void {
    for (const requests of [...this.waiting.values()]) {
      for (const request of requests) {
        this.refuse(request, {
          code: 'general_error',
          message: 'the controller is stopping',
          recoveryEtaSeconds: 5,
          canRetry: true,
          shouldWait: true,
        });
      }
    }
  }

  private answer(request: PendingProvision, engine: ProvisionedEngine): void {
    if (this.forget(request)) request.resolve(engine);
  }

  private refuse(request: PendingProvision, refusal: ProvisionRefusal): void {
    if (this.forget(request)) request.reject(new ProvisionRefused(refusal));
  }

  private forget(request: PendingProvision): boolean {
    if (request.settled) return false;
    request.settled = true;
    if (request.timer !== undefined) this.options.clock.clearTimeout(request.timer);
    const rest = (this.waiting.get(request.pool) ?? []).filter((r) => r !== request);
    if (rest.length > 0) this.waiting.set(request.pool, rest);
    else this.waiting.delete(request.pool);
    return true;
  }
}
