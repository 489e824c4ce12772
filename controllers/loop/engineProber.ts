import type { Clock } from '../../state/clock.js';
import {
  type HealthSettings,
  newProbeRecord,
  nextProbeAt,
  type ProbeRecord,
  recordProbe,
} from '../../state/health.js';
import { type httpGet, httpProbe } from '../http/client.js';
import type { Logger } from '../observability/logger.js';
import { DueJobs } from './dueTimer.js';

// Engine health checks: each running engine's `template.health.path` is fetched on its own schedule
// (every 250 ms while it starts, every `intervalSeconds` once ready), a bounded number at a time. The
// records are the only health knowledge; a transition (ready, unhealthy) wakes the loop.

/** One engine to probe, as the controller resolves it each tick. */
export interface ProbeTarget {
  readonly containerId: string;
  readonly pool: string;
  readonly name: string;
  readonly url: string;
  readonly settings: HealthSettings;
}

/** A transition of one engine's health. */
export type ProbeTransition = 'ready' | 'failing' | 'recovered';

/** Options of an {@link EngineProber}. */
export interface EngineProberOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Probes in flight at once. */
  readonly concurrency?: number;
  /** The HTTP client of the probes; the real one unless a test injects another. */
  readonly httpGet?: typeof httpGet;
  readonly onTransition: (target: ProbeTarget, transition: ProbeTransition, record: ProbeRecord) => void;
}

/** Probes engines and keeps their {@link ProbeRecord}s. */
export class EngineProber {
  private readonly records = new Map<string, ProbeRecord>();
  private targets = new Map<string, ProbeTarget>();
  private readonly jobs: DueJobs<string>;

  constructor(private readonly options: EngineProberOptions) {
    this.jobs = new DueJobs(options.clock, {
      limit: options.concurrency ?? 16,
      due: () => this.dueTimes(),
      run: (containerId) => this.probe(this.targets.get(containerId)!),
    });
  }

  private *dueTimes(): Iterable<readonly [string, number]> {
    for (const [id, record] of this.records) {
      const target = this.targets.get(id);
      if (target) yield [id, nextProbeAt(record, target.settings)];
    }
  }

  /**
   * Sets the engines to probe (every running engine). Records of containers that still exist are
   * kept (an exited engine's history says whether it was ever ready); the others are forgotten.
   */
  sync(targets: readonly ProbeTarget[], existing: ReadonlySet<string>): void {
    const now = this.options.clock.now();
    this.targets = new Map(targets.map((t) => [t.containerId, t]));
    for (const id of [...this.records.keys()]) if (!existing.has(id)) this.records.delete(id);
    for (const target of targets) {
      if (!this.records.has(target.containerId)) this.records.set(target.containerId, newProbeRecord(now));
    }
    this.jobs.arm();
  }

  /** Starts an engine's record over (it was restarted): it must prove itself ready again. */
  reset(containerId: string): void {
    this.records.set(containerId, newProbeRecord(this.options.clock.now()));
    this.jobs.arm();
  }

  /** The records, by container id. */
  view(): ReadonlyMap<string, ProbeRecord> {
    return this.records;
  }

  /** Stops probing. */
  close(): void {
    this.jobs.close();
  }

  private async probe(target: ProbeTarget): Promise<void> {
    const before = this.records.get(target.containerId);
    const result = await httpProbe(target.url, target.settings.timeoutSeconds * 1000, this.options.httpGet);
    // The engine went away, was restarted or moved while the probe ran: its answer no longer counts.
    if (
      !before ||
      this.records.get(target.containerId) !== before ||
      this.targets.get(target.containerId)?.url !== target.url
    ) {
      return;
    }
    const after = recordProbe(before, result, this.options.clock.now());
    this.records.set(target.containerId, after);
    const threshold = target.settings.failureThreshold;
    if (before.readyAt === undefined && after.readyAt !== undefined) {
      this.options.onTransition(target, 'ready', after);
    } else if (
      before.consecutiveFailures < threshold &&
      after.consecutiveFailures >= threshold &&
      after.readyAt !== undefined
    ) {
      this.options.onTransition(target, 'failing', after);
    } else if (before.consecutiveFailures >= threshold && after.consecutiveFailures === 0) {
      this.options.onTransition(target, 'recovered', after);
    }
  }
}
