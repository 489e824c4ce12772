import type { Clock, TimerHandle } from '../state/clock.js';

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
