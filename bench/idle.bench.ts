import { ControllerProcess, http, poolYaml, removeContainers, waitFor } from '../test/support/harness.js';
import { portBase, processUsage, sleep } from './machine.js';
import { markdownTable, recordResults, recordSection, table, verdict } from './report.js';

// Idle cost (issue 13): a controller holding N ready engines and doing nothing. Over a window it
// counts its Docker calls by verb (from its own enginepool_docker_requests_total, which the Runtime's
// call observer feeds), its CPU and RSS (/proc) and its event-loop lag (prom-client's p99 gauge).
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
const RSS_GOAL_MIB = (engines: number) => (engines <= 20 ? 70 : 100);

/** Docker calls by op from a Prometheus text exposition (all outcome codes summed). */
async function dockerCalls(url: string): Promise<Map<string, number>> {
  const text = (await http(`${url}/metrics`)).text;
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^enginepool_docker_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm)) {
    const op = /op="([^"]+)"/.exec(match[1]!)?.[1] ?? '?';
    calls.set(op, (calls.get(op) ?? 0) + Number(match[2]));
  }
  return calls;
}

/** A gauge's value from the exposition. */
async function gauge(url: string, name: string): Promise<number> {
  const text = (await http(`${url}/metrics`)).text;
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
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
    const before = await dockerCalls(ctl.url);
    const usageBefore = processUsage(ctl.pid!);
    const from = performance.now();
    await sleep(WINDOW_MS);
    const after = await dockerCalls(ctl.url);
    const usageAfter = processUsage(ctl.pid!);
    const minutes = (performance.now() - from) / 60_000;
    const lagP99 = await gauge(ctl.url, 'nodejs_eventloop_lag_p99_seconds');
    const byOp = [...after]
      .map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const)
      .filter(([, n]) => n > 0);
    const total = byOp.reduce((sum, [, n]) => sum + n, 0);
    const writes = byOp.filter(([op]) => WRITES.has(op)).reduce((sum, [, n]) => sum + n, 0);
    const perMinute = total / minutes;
    const cpu = ((usageAfter.cpuTicks - usageBefore.cpuTicks) * 10 * 100) / (minutes * 60_000);
    const rss = usageAfter.rssKiB / 1024;
    const verbs = byOp.map(([op, n]) => `${op} ${(n / minutes).toFixed(1)}`).join(', ') || 'none';
    const headers = [
      'engines',
      'window',
      'Docker calls/min',
      'by verb (/min)',
      'writes',
      'CPU',
      'RSS',
      'loop lag p99',
    ];
    const row = [
      String(engines),
      `${(minutes * 60).toFixed(0)} s`,
      perMinute.toFixed(2),
      verbs,
      String(writes),
      `${cpu.toFixed(2)}%`,
      `${rss.toFixed(1)} MiB (peak ${(usageAfter.hwmKiB / 1024).toFixed(1)})`,
      `${(lagP99 * 1000).toFixed(1)} ms`,
    ];
    console.log(table(headers, [row]));
    recordSection({
      title: `Idle cost with ${engines} engines`,
      markdown: [
        `A controller holding ${engines} ready engines (probed every 10 s), 5 s after they were ready, over a ` +
          `${(minutes * 60).toFixed(0)} s window: its Docker calls (its own \`enginepool_docker_requests_total\`), ` +
          "CPU and RSS (`/proc`) and prom-client's event-loop lag p99.",
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
        measured: `${rss.toFixed(1)} MiB (peak ${(usageAfter.hwmKiB / 1024).toFixed(1)}), CPU ${cpu.toFixed(2)}%, lag p99 ${(lagP99 * 1000).toFixed(1)} ms`,
        goalText: `<= ${RSS_GOAL_MIB(engines)} MiB`,
        verdict: rss <= RSS_GOAL_MIB(engines) ? 'PASS' : 'WARN',
      },
    ]);
  } finally {
    await ctl.stop('SIGTERM');
    await removeContainers({ pool: POOL });
  }
}

for (const engines of COUNTS) await holdIdle(engines);
