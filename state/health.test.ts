import { describe, expect, it } from 'vitest';
import {
  FIRST_PROBES_MS,
  FIRST_PROBES_WINDOW_MS,
  newProbeRecord,
  nextProbeAt,
  recordProbe,
  STARTUP_PROBE_MS,
} from './health.js';

const settings = { intervalSeconds: 10, timeoutSeconds: 2, failureThreshold: 3, startupTimeoutSeconds: 60 };
const refused = { ok: false as const, error: 'ECONNREFUSED' };

describe('nextProbeAt', () => {
  it('probes a new engine at once, then fast for its first seconds, then every 250 ms until ready', () => {
    let record = newProbeRecord(1_000);
    expect(nextProbeAt(record, settings)).toBe(1_000);
    record = recordProbe(record, refused, 1_000);
    expect(nextProbeAt(record, settings)).toBe(1_000 + FIRST_PROBES_MS);
    record = recordProbe(record, refused, 1_000 + FIRST_PROBES_WINDOW_MS);
    expect(nextProbeAt(record, settings)).toBe(1_000 + FIRST_PROBES_WINDOW_MS + STARTUP_PROBE_MS);
  });

  it('probes a ready engine every intervalSeconds, and a failing one every 250 ms', () => {
    let record = recordProbe(newProbeRecord(1_000), { ok: true }, 1_100);
    expect(nextProbeAt(record, settings)).toBe(11_100);
    record = recordProbe(record, refused, 11_100);
    expect(nextProbeAt(record, settings)).toBe(11_100 + STARTUP_PROBE_MS);
  });
});
