import { ControllerProcess, poolYaml, removeContainers, waitFor } from '../test/support/harness.js';
import { portBase, processUsage, sleep } from './machine.js';
import { markdownTable, median, recordResults, recordSection, table, verdict } from './report.js';
import { histogramBuckets, LOOP_DELAY, quantileBetween, scrape } from './scrape.js';

// Idle cost (issue 13): a controller holding N ready engines and doing nothing. Over a window it
// counts its Docker calls by verb (from its own enginepool_docker_requests_total, which the Runtime's
// call observer feeds), its CPU and RSS (/proc) and its event-loop lag (the p99 of its
// enginepool_event_loop_delay_seconds over the window).
// Goals: <= 2 Docker calls a minute and no write; RSS <= 70 MB at 20 engines (100 MB at 200).
//
// Env: BENCH_IDLE_ENGINES (comma-separated counts, default 20,200; at most 400), BENCH_IDLE_SECONDS (window, 60).
// Ports: BENCH_PORT_BASE + 600 .. + 999 (the pool, up to 400 engines), + 590 (the API).

const COUNTS = (process.env.BENCH_IDLE_ENGINES ?? '20,200').split(',').map(Number);
/** The pool's port range holds this many engines. */
const MAX_ENGINES = 400;
for (const n of COUNTS) {
  if (!Number.isInteger(n) || n < 1 || n > MAX_ENGINES) {
    throw new Error(
      `BENCH_IDLE_ENGINES: ${n} is not a count from 1 to ${MAX_ENGINES} (the port layout's room)`,
    );
  }
}
const WINDOW_MS = Number(process.env.BENCH_IDLE_SECONDS ?? 60) * 1000;
const POOL = 'bench-idle-cost';
const WRITES = new Set(['create', 'start', 'restart', 'remove', 'pull']);
const GOAL_CALLS_PER_MIN = 2;
const HARD_CALLS_PER_MIN = 12;
/** Issue 13's goals are in MB (10^6 bytes); RSS is read and shown in MiB, so the goal is converted. */
const RSS_GOAL_MB = (engines: number) => (engines <= 20 ? 70 : 100);
const MB_IN_MIB = 1e6 / 2 ** 20;

/** Docker calls by op from a Prometheus text exposition (all outcome codes summed). */
function dockerCalls(text: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^enginepool_docker_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm)) {
    const op = /op="([^"]+)"/.exec(match[1]!)?.[1] ?? '?';
    calls.set(op, (calls.get(op) ?? 0) + Number(match[2]));
  }
  return calls;
}

async function holdIdle(engines: number): Promise<void> {
  const base = portBase() + 600;
  await removeContainers({ pool: POOL });
  // Why: the harness's template probes every second with a 1 s timeout, right for tests; at 200 engines
  // on a loaded machine that judged engines unhealthy and replaced them, which is not idle cost.
  const yaml = poolYaml(POOL, {
    range: `${base}-${base + MAX_ENGINES - 1}`,
    replicas: `{ minFree: 1, min: ${engines}, max: ${engines} }`,
  })
    .replace('intervalSeconds: 1\n', 'intervalSeconds: 10\n')
    .replace('timeoutSeconds: 1\n', 'timeoutSeconds: 3\n');
  const ctl = new ControllerProcess(yaml, { LOG_LEVEL: 'info' });
  ctl.port = portBase() + 590;
  try {
    await ctl.start();
    await waitFor(
      `${engines} ready engines`,
      async () => ((await ctl.pool(POOL))?.replicas?.ready === engines ? true : undefined),
      { timeoutMs: 60_000 + engines * 1_000 },
    );
    // Why: the passes that follow the last start (settle wakes, the relist after it) are not idle yet.
    await sleep(5_000);
    const scrapeBefore = await scrape(ctl.url);
    const before = dockerCalls(scrapeBefore);
    const usageBefore = processUsage(ctl.pid!);
    const from = performance.now();
    // Why sampled: one reading lands anywhere in the garbage collector's cycle (+-4 MiB here); the
    // window's median is the footprint, its maximum what the host must have.
    const rssSamples: number[] = [];
    while (performance.now() - from < WINDOW_MS) {
      rssSamples.push(processUsage(ctl.pid!).rssKiB / 1024);
      await sleep(1_000);
    }
    const scrapeAfter = await scrape(ctl.url);
    const after = dockerCalls(scrapeAfter);
    const usageAfter = processUsage(ctl.pid!);
    const minutes = (performance.now() - from) / 60_000;
    const lagP99 = quantileBetween(
      histogramBuckets(scrapeBefore, LOOP_DELAY),
      histogramBuckets(scrapeAfter, LOOP_DELAY),
      0.99,
    );
    const byOp = [...after]
      .map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const)
      .filter(([, n]) => n > 0);
    const total = byOp.reduce((sum, [, n]) => sum + n, 0);
    const writes = byOp.filter(([op]) => WRITES.has(op)).reduce((sum, [, n]) => sum + n, 0);
    const perMinute = total / minutes;
    const cpu = ((usageAfter.cpuTicks - usageBefore.cpuTicks) * 10 * 100) / (minutes * 60_000);
    const rss = median(rssSamples);
    const rssMax = Math.max(...rssSamples);
    const goalMiB = RSS_GOAL_MB(engines) * MB_IN_MIB;
    const verbs = byOp.map(([op, n]) => `${op} ${(n / minutes).toFixed(1)}`).join(', ') || 'none';
    const headers = [
      'engines',
      'window',
      'Docker calls/min',
      'by verb (/min)',
      'writes',
      'CPU',
      'RSS, median of the window',
      'peak RSS since start',
      'loop lag p99',
    ];
    const row = [
      String(engines),
      `${(minutes * 60).toFixed(0)} s`,
      perMinute.toFixed(2),
      verbs,
      String(writes),
      `${cpu.toFixed(2)}%`,
      `${rss.toFixed(1)} MiB (max ${rssMax.toFixed(1)})`,
      `${(usageAfter.hwmKiB / 1024).toFixed(1)} MiB`,
      `${(lagP99 * 1000).toFixed(1)} ms`,
    ];
    console.log(table(headers, [row]));
    recordSection({
      title: `Idle cost with ${engines} engines`,
      markdown: [
        `A controller holding ${engines} ready engines (probed every 10 s), 5 s after they were ready, over a ` +
          `${(minutes * 60).toFixed(0)} s window: its Docker calls (its own \`enginepool_docker_requests_total\`), ` +
          'CPU and RSS (`/proc`; RSS read every second, its median and maximum; the peak since the start ' +
          'includes the ramp to the engines), and the event-loop delay p99 over the window (its ' +
          '`enginepool_event_loop_delay_seconds`).',
        '',
        markdownTable(headers, [row]),
      ].join('\n'),
    });
    recordResults([
      {
        goal: `idle Docker calls with ${engines} engines`,
        measured: `${perMinute.toFixed(2)}/min (${verbs}), ${writes} writes`,
        goalText: `<= ${GOAL_CALLS_PER_MIN}/min, 0 writes (hard ${HARD_CALLS_PER_MIN}/min)`,
        verdict: writes > 0 ? 'FAIL' : verdict(perMinute, GOAL_CALLS_PER_MIN, HARD_CALLS_PER_MIN),
      },
      {
        goal: `RSS holding ${engines} engines idle`,
        measured: `${rss.toFixed(1)} MiB median, ${rssMax.toFixed(1)} MiB max over the window; CPU ${cpu.toFixed(2)}%, lag p99 ${(lagP99 * 1000).toFixed(1)} ms`,
        goalText: `<= ${RSS_GOAL_MB(engines)} MB (${goalMiB.toFixed(1)} MiB), the window's maximum`,
        verdict: rssMax <= goalMiB ? 'PASS' : 'WARN',
      },
    ]);
  } finally {
    await ctl.stop('SIGTERM');
    await removeContainers({ pool: POOL });
  }
}

for (const engines of COUNTS) await holdIdle(engines);
