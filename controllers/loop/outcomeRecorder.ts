import { type FailureReason, formatAction } from '../../reconcilers/actions.js';
import type { Problem } from '../../reconcilers/status.js';
import type { Clock } from '../../state/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ActionLog, type LoggedAction } from './actionLog.js';
import type { Outcome } from './executor.js';
import type { Machines } from './machines.js';

// What came of a pass's actions, turned into what the rest of the controller needs: one log line and a
// metric per action, failures fed to the breaker, each pool's latest problem for its conditions, and
// each pool's last actions for the status page.
// Skip and failure reasons arrive as data (SkipCode, FailureReason), never matched as text.

/** Options of an {@link OutcomeRecorder}. */
export interface OutcomeRecorderOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly machines: Machines;
  /** A restarted container: its probe history and cached facts start over. */
  readonly onRestarted: (containerId: string) => void;
}

/** Records outcomes and keeps each pool's latest problem. */
export class OutcomeRecorder {
  private readonly problems = new Map<string, Problem>();
  private readonly log = new ActionLog();

  constructor(private readonly options: OutcomeRecorderOptions) {}

  /** The latest problem of `pool` (named in its Degraded condition), if any. */
  problem(pool: string): Problem | undefined {
    return this.problems.get(pool);
  }

  /** The last actions of `pool`, newest first. */
  actions(pool: string): readonly LoggedAction[] {
    return this.log.of(pool);
  }

  /** An engine of `pool` answered: provisioning works again. */
  engineReady(pool: string): void {
    this.options.machines.provisioningSucceeded(pool);
    this.problems.delete(pool);
  }

  /** Records one pass's outcomes. */
  record(outcomes: readonly Outcome[]): void {
    const { logger, metrics, machines } = this.options;
    const breakers = machines.breakerViews();
    this.log.record(outcomes, this.options.clock.now());
    for (const outcome of outcomes) {
      const { action } = outcome;
      const log = logger.child({ pool: action.pool });
      const fields = { action: action.kind, engine: action.name, reason: action.reason };
      if (outcome.ok) {
        metrics.action(action.pool, action.kind, true);
        log.info({ ...fields, containerId: outcome.containerId?.slice(0, 12) }, formatAction(action));
        if (action.kind === 'restart') this.options.onRestarted(action.containerId);
        if (action.kind === 'remove' && action.failure)
          this.failed(action.pool, action.failure, action.reason);
        if (action.kind === 'create' && breakers.get(action.pool)?.state === 'halfOpen')
          machines.trialStarted(action.pool);
        continue;
      }
      if (outcome.skipped) {
        log.debug(
          { ...fields, why: outcome.error, code: outcome.skipped },
          `skipped: ${formatAction(action)}`,
        );
        if (outcome.skipped === 'imagePulling') {
          this.problems.set(action.pool, {
            reason: 'ImagePulling',
            message: outcome.error,
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
    this.options.machines.provisioningFailed(pool, `${reason}: ${message}`);
    this.problems.set(pool, { reason, message, at: this.options.clock.now() });
  }
}
