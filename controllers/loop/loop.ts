import { backoffMs } from '../../state/backoff.js';
import type { Clock, TimerHandle } from '../../state/clock.js';
import type { Logger } from '../observability/logger.js';
import { DueTimer } from './dueTimer.js';

// A single-flight scheduler: one pass at a time; wake() during a pass asks for exactly one more pass
// after it (events coalesce); a periodic resync is the safety net; a pass may ask to be requeued at a
// time; a failing pass backs off exponentially and wakes do not cut the backoff short.

/** Options of a {@link Loop}. */
export interface LoopOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** One pass; resolves with the time it wants the next pass at, if any. */
  readonly pass: () => Promise<{ readonly requeueAt?: number }>;
  /** The longest time between two passes. */
  readonly resyncMs: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Called before a periodic resync pass (e.g. to drop cached inspects). */
  readonly onResync?: () => void;
}

/** The reconcile loop. */
export class Loop {
  private running?: Promise<void>;
  private pending = false;
  private readonly timer: DueTimer;
  private failures = 0;
  private lastError?: string;
  private stopped = false;
  private lastResync: number;

  constructor(private readonly options: LoopOptions) {
    this.lastResync = options.clock.now();
    this.timer = new DueTimer(options.clock, () => void this.run());
  }

  /** Starts the first pass. */
  start(): void {
    this.wake('start');
  }

  /** Asks for a pass as soon as possible (coalesced with other wakes). */
  wake(reason: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    // Why: while Docker keeps failing, only the backoff timer may start the next pass.
    if (this.failures > 0) return;
    this.options.logger.trace({ reason }, 'wake');
    this.at(this.options.clock.now());
  }

  private at(time: number): void {
    this.timer.schedule(time);
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    const { clock, logger } = this.options;
    this.pending = false;
    if (clock.now() - this.lastResync >= this.options.resyncMs) {
      this.lastResync = clock.now();
      this.options.onResync?.();
    }
    let requeueAt: number | undefined;
    let finish!: () => void;
    this.running = new Promise((resolve) => {
      finish = resolve;
    });
    try {
      requeueAt = (await this.options.pass()).requeueAt;
      this.failures = 0;
      this.lastError = undefined;
    } catch (error) {
      this.failures++;
      const delay = backoffMs(
        this.failures,
        this.options.backoffInitialMs ?? 500,
        this.options.backoffMaxMs ?? 30_000,
      );
      const message = (error as Error).message;
      // Why: a failure that persists (Docker down for an hour) is one state, logged when it starts or
      // changes, not on every retry; the retries stay visible at debug level and in the metrics.
      const level = message === this.lastError ? 'debug' : 'warn';
      this.lastError = message;
      logger[level](
        { err: message, retryInMs: delay, failures: this.failures },
        'reconcile pass failed; retrying',
      );
      this.running = undefined;
      finish();
      this.at(clock.now() + delay);
      return;
    }
    this.running = undefined;
    finish();
    if (this.stopped) return;
    const now = clock.now();
    if (this.pending) this.at(now);
    this.at(Math.min(now + this.options.resyncMs, requeueAt ?? Number.POSITIVE_INFINITY));
  }

  /** Stops scheduling and waits (up to `graceMs`) for a pass in progress. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    this.timer.cancel();
    if (!this.running) return;
    let timeout: TimerHandle | undefined;
    await Promise.race([
      this.running,
      new Promise<void>((resolve) => {
        timeout = this.options.clock.setTimeout(resolve, graceMs);
      }),
    ]);
    if (timeout !== undefined) this.options.clock.clearTimeout(timeout);
  }
}
