import { http } from '../test/support/harness.js';

// Reading the benchmarked controller's /metrics: one series' value, and the event-loop delay histogram
// (enginepool_event_loop_delay_seconds) as quantiles over the window between two scrapes.

/** The controller's Prometheus text exposition. */
export async function scrape(url: string): Promise<string> {
  return (await http(`${url}/metrics`)).text;
}

/** The value of a series without labels (NaN when the exposition lacks it). */
export function seriesValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

/** A histogram's cumulative bucket counts: [upper bound, count], in the exposition's order (+Inf last). */
export type Buckets = readonly (readonly [number, number])[];

/** The buckets of a histogram without labels. */
export function histogramBuckets(text: string, name: string): Buckets {
  return [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))].map(
    (match) => [match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]), Number(match[2])] as const,
  );
}

/**
 * The `q`-quantile (0..1) of what a histogram observed between two scrapes, interpolated within its
 * bucket as Prometheus's histogram_quantile does (the highest finite bound when it falls in +Inf); NaN
 * when nothing was observed.
 */
export function quantileBetween(before: Buckets, after: Buckets, q: number): number {
  const counts = after.map(([le, n], i) => [le, n - (before[i]?.[1] ?? 0)] as const);
  const total = counts.at(-1)?.[1] ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, n] of counts) {
    if (n >= rank && n > below) {
      return le === Number.POSITIVE_INFINITY ? lower : lower + (le - lower) * ((rank - below) / (n - below));
    }
    lower = le;
    below = n;
  }
  return lower;
}

/** The event-loop delay histogram the controller exports. */
export const LOOP_DELAY = 'enginepool_event_loop_delay_seconds';
