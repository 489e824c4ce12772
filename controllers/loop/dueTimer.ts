import type { Clock, TimerHandle } from '../../state/clock.js';

// One timer armed for the earliest time anyone asked for, on the injected clock: the loop, the prober
// and the stream watcher each keep one instead of a timer per engine or per stream.

/** A single timer at the earliest requested time. Asking for a later time than the one armed changes nothing. */
export class DueTimer {
  private handle?: TimerHandle;
  private at = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** Arms the timer for `time` (ms) unless it is already armed for that time or earlier. */
  schedule(time: number): void {
    if (time >= this.at) return;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.at = time;
    this.handle = this.clock.setTimeout(
      () => {
        this.handle = undefined;
        this.at = Number.POSITIVE_INFINITY;
        this.fire();
      },
      Math.max(0, time - this.clock.now()),
    );
  }

  /** Disarms it. */
  cancel(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.at = Number.POSITIVE_INFINITY;
  }
}

/** What {@link DueJobs} runs. */
export interface DueJobsOptions<K> {
  /** Jobs in flight at once. */
  readonly limit: number;
  /** Every job with the time (ms) it is due. */
  readonly due: () => Iterable<readonly [K, number]>;
  /** Runs one job; the next arm happens when it settles. */
  readonly run: (key: K) => Promise<void>;
}

/**
 * Keyed jobs run when due, a bounded number at a time, never two of one key at once, with one timer at
 * the earliest due time of the jobs not running: the engine prober and the stream watcher.
 */
export class DueJobs<K> {
  private readonly inFlight = new Set<K>();
  private readonly timer: DueTimer;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly options: DueJobsOptions<K>,
  ) {
    this.timer = new DueTimer(clock, () => this.runDue());
  }

  /** Re-arms the timer for the earliest due job (call whenever due times may have changed). */
  arm(): void {
    if (this.closed) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, at] of this.options.due())
      if (!this.inFlight.has(key)) earliest = Math.min(earliest, at);
    if (earliest !== Number.POSITIVE_INFINITY) this.timer.schedule(earliest);
  }

  /** Stops running jobs (those in flight finish, nothing new starts). */
  close(): void {
    this.closed = true;
    this.timer.cancel();
  }

  private runDue(): void {
    if (this.closed) return;
    const now = this.clock.now();
    const due = [...this.options.due()]
      .filter(([key, at]) => at <= now && !this.inFlight.has(key))
      .sort(([, a], [, b]) => a - b);
    for (const [key] of due) {
      if (this.inFlight.size >= this.options.limit) break;
      this.inFlight.add(key);
      void this.options.run(key).finally(() => {
        this.inFlight.delete(key);
        this.arm();
      });
    }
    this.arm();
  }
}
