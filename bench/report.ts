import { appendFileSync, readFileSync } from 'node:fs';

// What the bench files share: statistics, fixed-width tables, and result rows. Each bench file appends
// its rows (JSON lines) to the file named by BENCH_RESULTS; bench/summary.ts prints them together and
// decides the exit code. Without BENCH_RESULTS a bench file only prints its own tables.

/** How a measurement compares with its goal: within it, over the goal but under the hard limit, over the hard limit, or informative only. */
export type Verdict = 'PASS' | 'WARN' | 'FAIL' | 'INFO';

/** One line of the summary. */
export interface ResultRow {
  readonly goal: string;
  readonly measured: string;
  readonly goalText: string;
  readonly verdict: Verdict;
}

/** The median of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The `p`-th percentile of `values`, interpolated between the closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** PASS within `goal`, WARN above it but within `hardLimit`, FAIL above the hard limit (lower is better). */
export function verdict(value: number, goal: number, hardLimit: number): Verdict {
  if (value <= goal) return 'PASS';
  return value <= hardLimit ? 'WARN' : 'FAIL';
}

/** Renders rows as a fixed-width table under a header line. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Appends result rows for the summary (when BENCH_RESULTS names a file). */
export function recordResults(rows: readonly ResultRow[]): void {
  const file = process.env.BENCH_RESULTS;
  if (!file) return;
  appendFileSync(file, rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
}

/** Reads the rows that bench files appended to `file`. */
export function readResults(file: string): ResultRow[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ResultRow);
}

/** Milliseconds with one decimal, or three below 1 ms. */
export function ms(value: number): string {
  return `${value < 1 ? value.toFixed(3) : value.toFixed(1)} ms`;
}
