import { backoffMs } from '../../state/backoff.js';
import type { Clock, TimerHandle } from '../../state/clock.js';
import { LABELS } from '../../state/labels.js';
import type { Logger } from '../observability/logger.js';
import type { Runtime, RuntimeEvent } from '../runtime/runtime.js';

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
  'pause',
  'unpause',
  'rename',
  'oom',
]);

/** When, after the last event of a burst, the loop is woken again (Docker's listed state lags a little, more under load). */
const SETTLE_MS = [150, 500, 1_500];
/** How long after a container event Docker's list may still lag it: the last settle wake. */
export const LIST_LAG_MS = SETTLE_MS.at(-1)!;

/** True for the container events that may change what the controller should do. */
export function wakes(event: RuntimeEvent): boolean {
  if (event.Type !== undefined && event.Type !== 'container') return false;
  const action = event.Action ?? '';
  return WAKING_ACTIONS.has(action) || action.startsWith('health_status');
}

/**
 * True when an event is about an engine of a pool in this file (it carries the pool label) or one of
 * its VPN containers. Why: every other container's churn woke a pass; on a busy Docker engine each
 * such pass's `docker ps` took up to 5 s, and a pass in flight delays the one that applies a file edit.
 * Engines of pools not in the file are never touched (another controller may own them), so their
 * churn, like foreign containers' (names, ports), is seen by the next pass that lists anyway.
 */
export function concernsPools(
  event: RuntimeEvent,
  pools: ReadonlySet<string>,
  vpnNames: ReadonlySet<string>,
): boolean {
  const attributes = event.Actor?.Attributes;
  if (!attributes?.name) return true;
  const pool = attributes[LABELS.pool];
  return (pool !== undefined && pools.has(pool)) || vpnNames.has(attributes.name);
}

/** Options of {@link DockerEvents}. */
export interface DockerEventsOptions {
  readonly docker: Runtime;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly wake: (reason: string) => void;
  /** Whether an event should wake the loop (see {@link concernsPools}); every container event when absent. */
  readonly relevant?: (event: RuntimeEvent) => boolean;
  /** A container (re)started: what was known of it is stale. */
  readonly onStarted: (containerId: string) => void;
  /**
   * A relevant container changed: the last list of containers is stale. Why not on every event: on a
   * shared Docker engine others' churn would make every pass list again; a foreign container that took
   * a name or port since is found by the create it fails (set aside, relisted) or the safety relist.
   */
  readonly onChanged?: (event: RuntimeEvent) => void;
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
  private settling: TimerHandle[] = [];
  private connectedAt?: number;

  constructor(private readonly options: DockerEventsOptions) {}

  /** When the stream was last connected; undefined while it is down (every change may be missed). */
  connectedSince(): number | undefined {
    return this.connectedAt;
  }

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
      this.connectedAt = this.options.clock.now();
      for await (const event of events) {
        if (event.time !== undefined) this.lastSeconds = event.time;
        if (!wakes(event)) continue;
        if (event.Action === 'start' || event.Action === 'restart')
          this.options.onStarted(event.Actor?.ID ?? '');
        if (this.options.relevant && !this.options.relevant(event)) continue;
        this.options.onChanged?.(event);
        const reason = `${event.Action} ${event.Actor?.Attributes?.name ?? event.Actor?.ID ?? ''}`;
        wake(reason);
        this.settle(reason);
      }
      this.connectedAt = undefined;
      if (this.stopped) return;
      logger.warn('Docker event stream ended');
    } catch (error) {
      this.connectedAt = undefined;
      if (this.stopped) return;
      if (this.failures === 0) logger.warn({ err: (error as Error).message }, 'Docker event stream failed');
    }
    this.failures++;
    this.lastSeconds ??= Math.floor(this.options.clock.now() / 1000);
    const delay = backoffMs(
      this.failures,
      this.options.backoffInitialMs ?? 500,
      this.options.backoffMaxMs ?? 30_000,
    );
    this.retry = this.options.clock.setTimeout(() => void this.follow(), delay);
  }

  /**
   * Wakes the loop a few more times shortly after the last of a burst of events. Why: dockerd emits `die`
   * before the container's listed state says `exited`; a pass woken by the event alone can still see
   * it running.
   */
  private settle(reason: string): void {
    const { clock } = this.options;
    for (const timer of this.settling) clock.clearTimeout(timer);
    this.settling = SETTLE_MS.map((delay) =>
      clock.setTimeout(() => this.options.wake(`${reason} (settled)`), delay),
    );
  }

  stop(): void {
    for (const timer of this.settling) this.options.clock.clearTimeout(timer);
    this.stopped = true;
    this.controller?.abort();
    if (this.retry !== undefined) this.options.clock.clearTimeout(this.retry);
  }
}
