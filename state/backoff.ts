// Exponential backoff, the one rule for every retry of the controller (the loop after a failed pass, the
// event stream's redial, a stream whose stat URL does not answer).

/** The wait before retry number `failures` (1 for the first): `initialMs` doubled each time, capped. */
export function backoffMs(failures: number, initialMs: number, maxMs: number): number {
  return Math.min(initialMs * 2 ** Math.max(0, failures - 1), maxMs);
}
