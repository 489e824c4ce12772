import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMachine } from './machine.js';
import { plotFile, plotsOf, renderMarkdown, renderSvg } from './render.js';
import { readResults, table } from './report.js';

// The last step of `npm run bench`: every bench file's result rows in one table on the console, and the
// run written to BENCH_OUT_DIR (default docs/): benchmarks.md (verdicts, sections, plots; see
// bench/render.ts), one benchmarks-<plot>.svg per plot, and benchmarks.json (the rows with the
// description of the machine they were measured on). Exits 1 when a row exceeded its hard limit (FAIL);
// a goal missed within the hard limit (WARN) is reported, not failed.

const [file, ...names] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/summary.ts RESULTS_FILE [BENCH_NAME...]');
  process.exit(2);
}
const lines = readResults(file);
const rows = lines.filter((line) => line.kind === 'row');
console.log('\n== summary');
console.log(
  table(
    ['benchmark', 'anchor', 'measured', 'goal', 'verdict'],
    rows.map((row) => [row.goal, row.anchor ?? '', row.measured, row.goalText, row.verdict]),
  ),
);

const outDir = process.env.BENCH_OUT_DIR ?? 'docs';
mkdirSync(outDir, { recursive: true });
const measuredAt = new Date().toISOString();
const machine = describeMachine();
// Why: the knobs decide what the figures mean (rounds, N); BENCH_RESULTS and BENCH_OUT_DIR only say where files go.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] =>
      (entry[0].startsWith('BENCH_') || entry[0] === 'DOCKER_HOST') &&
      !['BENCH_RESULTS', 'BENCH_OUT_DIR'].includes(entry[0]) &&
      entry[1] !== undefined,
  ),
);
const plots = plotsOf(lines);
// Why: the files describe one run; a plot an earlier run drew and this one did not would be stale.
for (const old of readdirSync(outDir).filter((name) => /^benchmarks-.+\.svg$/.test(name))) {
  rmSync(join(outDir, old));
}
for (const [plot, series] of plots) writeFileSync(join(outDir, plotFile(plot)), renderSvg(series));
writeFileSync(
  join(outDir, 'benchmarks.md'),
  renderMarkdown(lines, { date: measuredAt, machine, names, env }),
);
writeFileSync(
  join(outDir, 'benchmarks.json'),
  `${JSON.stringify({ measuredAt, machine, command: { names, env }, results: rows }, null, 2)}\n`,
);
console.log(
  `\nresults written to ${join(outDir, 'benchmarks.md')}, ${join(outDir, 'benchmarks.json')}` +
    (plots.size > 0 ? ` and ${plots.size} plot(s) (${[...plots.keys()].map(plotFile).join(', ')})` : ''),
);
const failed = rows.filter((row) => row.verdict === 'FAIL');
if (failed.length > 0) {
  console.log(`\n${failed.length} hard limit(s) exceeded: ${failed.map((row) => row.goal).join('; ')}`);
  process.exit(1);
}
