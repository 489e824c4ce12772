import { request } from 'node:http';
import type { Clock } from '../../state/clock.js';
import {
  type HealthSettings,
  newProbeRecord,
  nextProbeAt,
  type ProbeRecord,
  recordProbe,
} from '../../state/health.js';
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
  /** The HTTP client of the probes; {@link httpGet} unless a test injects another. */
  readonly httpGet?: typeof httpGet;
  readonly onTransition: (target: ProbeTarget, transition: ProbeTransition, record: ProbeRecord) => void;
}

/** The answer of {@link httpGet}: the status and up to `maxBytes` of the body, or why there was none. */
export type HttpGetResult =
  | { readonly ok: true; readonly status: number; readonly body: string }
  | { readonly ok: false; readonly error: string };

/** GETs a URL without keep-alive; never rejects. The body is read up to `maxBytes` (0: discarded). */
export function httpGet(url: string, timeoutMs: number, maxBytes = 0): Promise<HttpGetResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: HttpGetResult) => {
      if (!settled) {
        settled = true;
        resolve(result);
      }
    };
    let req: ReturnType<typeof request>;
    try {
      req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
        const status = res.statusCode ?? 0;
        if (maxBytes === 0) {
          res.resume();
          return finish({ ok: true, status, body: '' });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < maxBytes) chunks.push(chunk.subarray(0, maxBytes - size));
          size += chunk.length;
        });
        res.on('end', () => finish({ ok: true, status, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error: NodeJS.ErrnoException) =>
          finish({ ok: false, error: error.code ?? error.message }),
        );
      });
    } catch (error) {
      return finish({ ok: false, error: (error as Error).message });
    }
    req.on('timeout', () => {
      req.destroy();
      finish({ ok: false, error: `no answer within ${timeoutMs} ms` });
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ ok: false, error: error.code ?? error.message }),
    );
    req.end();
  });
}

/** GETs a URL; resolves ok on a 2xx answer within the timeout, otherwise an error text. */
export async function httpProbe(
  url: string,
  timeoutMs: number,
  get: typeof httpGet = httpGet,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const result = await get(url, timeoutMs);
  if (!result.ok) return result;
  return result.status >= 200 && result.status < 300
    ? { ok: true }
    : { ok: false, error: `HTTP ${result.status}` };
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
