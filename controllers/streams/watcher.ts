import { backoffMs } from '../../state/backoff.js';
import type { Clock } from '../../state/clock.js';
import { judgeStat, statUrlFor } from '../../state/streamStat.js';
import { type HttpGetResult, httpGet } from '../http/client.js';
import { DueJobs } from '../loop/dueTimer.js';
import type { Logger } from '../observability/logger.js';
import type { Endpoint } from '../runtime/addressing.js';
import type { StreamRecord, StreamRegistry } from './registry.js';

// Stale streams: a proxy that crashes never says its streams ended, and their engines would stay
// "used" for ever. Every open stream with a stat URL is checked every period, a bounded number at a
// time; when its engine answers that it no longer knows the session, the stream is ended and the loop
// woken, so the engine is free again. Errors back off; engines that are gone are the pass's business
// (their streams end with them).

/** Options of a {@link StreamWatcher}. */
export interface StreamWatcherOptions {
  readonly registry: StreamRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where the controller reaches an engine (by container id), as of the last pass. */
  readonly endpoint: (containerId: string) => Endpoint | undefined;
  /** Asks for a reconcile pass (an engine became free). */
  readonly wake: (reason: string) => void;
  /** Time between two checks of one stream. */
  readonly periodMs?: number;
  /** The longest wait after failed checks (the period doubles per failure up to this). */
  readonly maxBackoffMs?: number;
  readonly timeoutMs?: number;
  /** Checks in flight at once. */
  readonly concurrency?: number;
  /** GETs a stat URL (tests pass a fake). */
  readonly get?: (url: string, timeoutMs: number) => Promise<HttpGetResult>;
}

interface Watched {
  nextAt: number;
  failures: number;
}

const STAT_BODY_LIMIT = 64 * 1024;

/** Checks open streams against their engines' stat URLs and ends those whose session is gone. */
export class StreamWatcher {
  private readonly watched = new Map<string, Watched>();
  private readonly jobs: DueJobs<string>;
  private closed = false;

  constructor(private readonly options: StreamWatcherOptions) {
    this.jobs = new DueJobs(options.clock, {
      limit: options.concurrency ?? 8,
      due: () => [...this.watched].map(([id, watched]) => [id, watched.nextAt] as const),
      run: (id) => this.check(id),
    });
  }

  private get periodMs(): number {
    return this.options.periodMs ?? 10_000;
  }

  /** Picks up streams started since the last call and forgets ended ones (call after each pass). */
  sync(): void {
    if (this.closed) return;
    const now = this.options.clock.now();
    const open = new Set<string>();
    for (const stream of this.options.registry.list()) {
      if (!stream.statUrl) continue;
      open.add(stream.id);
      if (!this.watched.has(stream.id))
        this.watched.set(stream.id, { nextAt: now + this.periodMs, failures: 0 });
    }
    for (const id of [...this.watched.keys()]) if (!open.has(id)) this.watched.delete(id);
    this.jobs.arm();
  }

  /** Stops checking. */
  close(): void {
    this.closed = true;
    this.jobs.close();
  }

  private async check(id: string): Promise<void> {
    const watched = this.watched.get(id);
    if (!watched) return;
    const { registry, clock, logger } = this.options;
    const stream = registry.get(id);
    if (!stream?.statUrl) {
      this.watched.delete(id);
      return;
    }
    const endpoint = this.options.endpoint(stream.containerId);
    const url = endpoint ? statUrlFor(stream.statUrl, endpoint) : undefined;
    if (!url) {
      // The engine is not (or no longer) known: the next pass ends its streams if it is gone.
      watched.nextAt = clock.now() + this.periodMs;
      return;
    }
    const get =
      this.options.get ?? ((target, ms) => httpGet(target, { timeoutMs: ms, maxBytes: STAT_BODY_LIMIT }));
    const answer = await get(url, this.options.timeoutMs ?? 3_000);
    if (this.closed) return;
    // Why: a stream restarted or ended while its check ran (a new stat URL, another engine) is judged
    // on its new record at its next check, never on an answer about the old session.
    if (registry.get(id) !== stream || this.watched.get(id) !== watched) return;
    const verdict = answer.ok
      ? judgeStat(answer.status, answer.body)
      : { kind: 'inconclusive' as const, reason: answer.error };
    const log = logger.child({ pool: stream.pool, engine: stream.engine, stream: id });
    if (verdict.kind === 'ended') {
      this.watched.delete(id);
      this.end(stream, verdict.reason);
    } else if (verdict.kind === 'alive') {
      watched.failures = 0;
      watched.nextAt = clock.now() + this.periodMs;
    } else {
      watched.failures++;
      // Why: the first failure already waits two periods; one period was the normal check.
      const backoff = backoffMs(watched.failures + 1, this.periodMs, this.options.maxBackoffMs ?? 5 * 60_000);
      watched.nextAt = clock.now() + backoff;
      log.debug(
        { reason: verdict.reason, failures: watched.failures, retryInMs: backoff },
        'stream check inconclusive',
      );
    }
  }

  private end(stream: StreamRecord, reason: string): void {
    if (!this.options.registry.end(stream.id)) return;
    this.options.logger.info(
      { pool: stream.pool, engine: stream.engine, stream: stream.id, reason },
      'stream ended: its engine no longer knows the session',
    );
    this.options.wake(`stream ${stream.id} on ${stream.engine} went stale`);
  }
}
