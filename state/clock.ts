/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * The source of time for everything in enginepool. Pure code receives `now` as a number; the shell
 * receives a Clock. It has the shape of xstate's clock, so xstate's `SimulatedClock` is a Clock in tests.
 */
export interface Clock {
  /** Milliseconds since the epoch (or since the start of a simulation). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: the only place in the codebase that reads the wall clock or arms a real timer. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    // Why: a pending probe or resync timer must never keep a finished CLI command alive.
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A time (ms since the epoch) as users read it: ISO 8601 in UTC. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
