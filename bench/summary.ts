import { readResults, table } from './report.js';

// The last step of `npm run bench`: every bench file's result rows in one table. Exits 1 when a row
// exceeded its hard limit (FAIL); a goal missed within the hard limit (WARN) is reported, not failed.

const file = process.argv[2];
if (!file) {
  console.error('usage: tsx bench/summary.ts RESULTS_FILE');
  process.exit(2);
}
const rows = readResults(file);
console.log('\n== summary');
console.log(
  table(
    ['benchmark', 'measured', 'goal', 'verdict'],
    rows.map((row) => [row.goal, row.measured, row.goalText, row.verdict]),
  ),
);
const failed = rows.filter((row) => row.verdict === 'FAIL');
if (failed.length > 0) {
  console.log(`\n${failed.length} hard limit(s) exceeded: ${failed.map((row) => row.goal).join('; ')}`);
  process.exit(1);
}
