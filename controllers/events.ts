import type { Clock, TimerHandle } from '../state/clock.js';
import type { DockerEvent, DockerPort } from './docker.js';
import type { Logger } from './logger.js';

// Docker's event stream only wakes the loop; it never carries decisions. When the stream drops it
// redials with backoff from the time of the last event, and asks for a full relist, since anything
// may have happened in the gap.

const WAKING_ACTIONS = new Set([
  'create',
  'start',
  'restart',
  'die',
  'stop',
  'kill',
  'destroy',
  'remove',
  'pause',
  'unpause',
  'rename',
  'oom',
]);

/** True for the container events that may change what the controller should do. */
export function wakes(event: DockerEvent): boolean {
  if (event.Type !== undefined && event.Type !== 'container') return false;
  const action = event.Action ?? '';
  return WAKING_ACTIONS.has(action) || action.startsWith('health_status');
}

/** Options of {@link DockerEvents}. */
export interface DockerEventsOptions {
  readonly docker: DockerPort;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly wake: (reason: string) => void;
  /** A container (re)started: what was known of it is stale. */
  readonly onStarted: (containerId: string) => void;
  /** The stream dropped and came back: anything may have changed in between. */
  readonly onGap: () => void;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
}

/** Follows Docker's event stream until stopped. */
export class DockerEvents {
  private controller?: AbortController;
  private retry?: TimerHandle;
  private failures = 0;
  private lastSeconds?: number;
  private stopped = false;

  constructor(private readonly options: DockerEventsOptions) {}

  start(): void {
    void this.follow();
  }

  private async follow(): Promise<void> {
    const { docker, logger, wake } = this.options;
    this.controller = new AbortController();
    const since = this.lastSeconds;
    try {
      const events = await docker.events({
        ...(since !== undefined ? { since } : {}),
        signal: this.controller.signal,
      });
      if (this.failures > 0 || since !== undefined) {
        logger.info('Docker event stream reconnected');
        this.options.onGap();
        wake('event stream reconnected');
      }
      this.failures = 0;
      for await (const event of events) {
        if (event.time !== undefined) this.lastSeconds = event.time;
        if (!wakes(event)) continue;
        if (event.Action === 'start' || event.Action === 'restart')
          this.options.onStarted(event.Actor?.ID ?? '');
        wake(`${event.Action} ${event.Actor?.Attributes?.name ?? event.Actor?.ID ?? ''}`);
      }
      if (this.stopped) return;
      logger.warn('Docker event stream ended');
    } catch (error) {
      if (this.stopped) return;
      if (this.failures === 0) logger.warn({ err: (error as Error).message }, 'Docker event stream failed');
    }
    this.failures++;
    this.lastSeconds ??= Math.floor(this.options.clock.now() / 1000);
    const delay = Math.min(
      (this.options.backoffInitialMs ?? 500) * 2 ** (this.failures - 1),
      this.options.backoffMaxMs ?? 30_000,
    );
    this.retry = this.options.clock.setTimeout(() => void this.follow(), delay);
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    if (this.retry !== undefined) this.options.clock.clearTimeout(this.retry);
  }
}
