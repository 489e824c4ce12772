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
  const interval =
    record.readyAt === undefined || record.consecutiveFailures > 0
      ? Math.min(STARTUP_PROBE_MS, settings.intervalSeconds * 1000)
      : settings.intervalSeconds * 1000;
  return record.lastProbeAt + interval;
}
