// The probe history of one engine and what it means. Pure: the prober (controllers/loop/engineProber.ts) feeds
// results in with their time; reconcilers read the state out.

/** What the prober knows of one engine container, keyed by container id. */
export interface ProbeRecord {
  /** When this controller first saw the container running, or last (re)started it. */
  readonly firstSeenAt: number;
  readonly lastProbeAt?: number;
  /** When it first answered a probe since `firstSeenAt`; undefined while it never has. */
  readonly readyAt?: number;
  readonly consecutiveFailures: number;
  readonly lastError?: string;
}

/** The probe settings of a pool (`template.health`). */
export interface HealthSettings {
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
  readonly startupTimeoutSeconds: number;
}

/** How the health of a running engine reads: the contract's states plus `timedOut` (never ready in time). */
export type HealthState = 'starting' | 'ready' | 'unhealthy' | 'timedOut';

/** A starting engine is probed this often, so readiness is seen within a fraction of a second. */
export const STARTUP_PROBE_MS = 250;
/**
 * For its first seconds a starting engine is probed this often. Why: a healthy engine answers within
 * a second or two of its start; at 250 ms its first answer waited 125 ms on average to be seen, which
 * is most of what a replacement may add on top of a raw start.
 */
export const FIRST_PROBES_MS = 50;
/** How long after it was first seen a starting engine is probed every {@link FIRST_PROBES_MS}. */
export const FIRST_PROBES_WINDOW_MS = 3_000;

/** A fresh record for a container seen (or restarted) at `at`. */
export function newProbeRecord(at: number): ProbeRecord {
  return { firstSeenAt: at, consecutiveFailures: 0 };
}

/** The record after one probe taken at `at`. */
export function recordProbe(
  record: ProbeRecord,
  result: { readonly ok: true } | { readonly ok: false; readonly error: string },
  at: number,
): ProbeRecord {
  if (result.ok) {
    return {
      firstSeenAt: record.firstSeenAt,
      lastProbeAt: at,
      readyAt: record.readyAt ?? at,
      consecutiveFailures: 0,
    };
  }
  return {
    ...record,
    lastProbeAt: at,
    consecutiveFailures: record.consecutiveFailures + 1,
    lastError: result.error,
  };
}

/** The health state of a running engine at `now`. */
export function healthState(
  record: ProbeRecord | undefined,
  settings: HealthSettings,
  now: number,
): HealthState {
  if (!record || record.readyAt === undefined) {
    if (record && now - record.firstSeenAt > settings.startupTimeoutSeconds * 1000) return 'timedOut';
    return 'starting';
  }
  return record.consecutiveFailures >= settings.failureThreshold ? 'unhealthy' : 'ready';
}

/** When the next probe of this engine is due. */
export function nextProbeAt(record: ProbeRecord, settings: HealthSettings): number {
  if (record.lastProbeAt === undefined) return record.firstSeenAt;
  if (record.readyAt === undefined && record.lastProbeAt - record.firstSeenAt < FIRST_PROBES_WINDOW_MS)
    return record.lastProbeAt + Math.min(FIRST_PROBES_MS, settings.intervalSeconds * 1000);
  const interval =
    record.readyAt === undefined || record.consecutiveFailures > 0
      ? Math.min(STARTUP_PROBE_MS, settings.intervalSeconds * 1000)
      : settings.intervalSeconds * 1000;
  return record.lastProbeAt + interval;
}
