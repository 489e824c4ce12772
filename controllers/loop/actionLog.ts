import type { Outcome } from './executor.js';

// The last actions of each pool with their reasons and results, for the status page: "what did the
// controller just do, and why". A ring per pool; the log lines stay the full record.

/** One action the controller took (or tried). */
export interface LoggedAction {
  /** When its outcome was known (ms). */
  readonly at: number;
  readonly kind: 'create' | 'remove' | 'restart';
  readonly engine: string;
  readonly reason: string;
  readonly ok: boolean;
  /** Why it failed, when it did. */
  readonly error?: string;
}

/** The last `size` actions of each pool, newest first. */
export class ActionLog {
  private readonly pools = new Map<string, LoggedAction[]>();

  constructor(private readonly size = 10) {}

  /**
   * Records what a pass did. Why: skipped actions (waiting for a pull, behind a failed batch) are left
   * out: they repeat every pass and were not taken.
   */
  record(outcomes: readonly Outcome[], at: number): void {
    for (const outcome of outcomes) {
      if (!outcome.ok && outcome.skipped) continue;
      const { action } = outcome;
      const list = this.pools.get(action.pool) ?? [];
      list.unshift({
        at,
        kind: action.kind,
        engine: action.name,
        reason: action.reason,
        ok: outcome.ok,
        ...(outcome.ok ? {} : { error: outcome.error }),
      });
      list.length = Math.min(list.length, this.size);
      this.pools.set(action.pool, list);
    }
  }

  /** The pool's last actions, newest first. */
  of(pool: string): readonly LoggedAction[] {
    return this.pools.get(pool) ?? [];
  }
}
