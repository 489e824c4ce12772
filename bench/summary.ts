import { writeFileSync } from 'node:fs';
import { describeMachine } from './machine.js';
import { readResults, table } from './report.js';

// The last step of `npm run bench`: every bench file's result rows in one table, and in a JSON file
// (BENCH_JSON, default docs/benchmarks.json) with the description of the machine they were measured
// on. Exits 1 when a row exceeded its hard limit (FAIL); a goal missed within the hard limit (WARN) is
// reported, not failed.

const file = process.argv[2];
if (!file) {
  console.error('usage: tsx bench/summary.ts RESULTS_FILE');
  process.exit(2);
}
const rows = readResults(file).filter((line) => line.kind === 'row');
console.log('\n== summary');
console.log(
  table(
    ['benchmark', 'measured', 'goal', 'verdict'],
    rows.map((row) => [row.goal, row.measured, row.goalText, row.verdict]),
  ),
);
const json = process.env.BENCH_JSON ?? 'docs/benchmarks.json';
writeFileSync(
  json,
  `${JSON.stringify({ measuredAt: new Date().toISOString(), machine: describeMachine(), results: rows }, null, 2)}\n`,
);
console.log(`\nresults and machine written to ${json}`);
const failed = rows.filter((row) => row.verdict === 'FAIL');
if (failed.length > 0) {
  console.log(`\n${failed.length} hard limit(s) exceeded: ${failed.map((row) => row.goal).join('; ')}`);
  process.exit(1);
}
