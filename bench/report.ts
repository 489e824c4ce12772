import { appendFileSync, readFileSync } from 'node:fs';

// What the bench files share: statistics, fixed-width tables, and result rows. Each bench file appends
// its rows (JSON lines) to the file named by BENCH_RESULTS; bench/summary.ts prints them together and
// decides the exit code. Without BENCH_RESULTS a bench file only prints its own tables.

/** How a measurement compares with its goal: within it, over the goal but under the hard limit, over the hard limit, or informative only. */
export type Verdict = 'PASS' | 'WARN' | 'FAIL' | 'INFO';

/** One line of the summary. */
export interface ResultRow {
  readonly goal: string;
  /** What the figure is compared with, measured in the same run (none for an absolute goal). */
  readonly anchor?: string;
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

/** Renders rows as a Markdown table (for a section); `|` in a cell is escaped. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A part of docs/benchmarks.md: one benchmark's detail (its rounds, its breakdown), in Markdown. */
export interface ResultSection {
  readonly title: string;
  readonly markdown: string;
  /** Plot ids (see {@link ResultSeries.plot}) drawn under this section; plots no section names come last. */
  readonly plots?: readonly string[];
}

/** One line of a plot: `points` are [x, y]; lines with the same `plot` share one SVG. */
export interface ResultSeries {
  /** The plot's file stem and title, e.g. `startup-20`: docs/benchmarks-startup-20.svg. */
  readonly plot: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** The line's name in the legend, e.g. `controller`. */
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** How the x axis is drawn (linear by default; log for sizes growing by powers of ten). */
  readonly xScale?: 'linear' | 'log';
}

/** What bench files append to BENCH_RESULTS, one JSON object a line. */
export type ResultLine =
  | ({ readonly kind: 'row' } & ResultRow)
  | ({ readonly kind: 'section' } & ResultSection)
  | ({ readonly kind: 'series' } & ResultSeries);

function record(lines: readonly ResultLine[]): void {
  const file = process.env.BENCH_RESULTS;
  if (!file) return;
  appendFileSync(file, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
}

/** Appends result rows for the summary (when BENCH_RESULTS names a file). */
export function recordResults(rows: readonly ResultRow[]): void {
  record(rows.map((row) => ({ kind: 'row', ...row })));
}

/** Appends a section of docs/benchmarks.md (when BENCH_RESULTS names a file). */
export function recordSection(section: ResultSection): void {
  record([{ kind: 'section', ...section }]);
}

/** Appends a line of a plot (when BENCH_RESULTS names a file). */
export function recordSeries(series: ResultSeries): void {
  record([{ kind: 'series', ...series }]);
}

/** Reads what bench files appended to `file`, in order. */
export function readResults(file: string): ResultLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ResultLine);
}

/** Milliseconds with one decimal, or three below 1 ms. */
export function ms(value: number): string {
  return `${value < 1 ? value.toFixed(3) : value.toFixed(1)} ms`;
}
