import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { ControllerProcess, http, poolYaml, removeContainers, waitFor } from '../test/support/harness.js';
import { portBase, processUsage, sleep, withController } from './machine.js';
import {
  markdownTable,
  median,
  percentile,
  type ResultRow,
  recordResults,
  recordSection,
  recordSeries,
  table,
  verdict,
} from './report.js';
import {
  type Buckets,
  histogramBuckets,
  LOOP_DELAY,
  quantileBetween,
  scrape,
  seriesValue,
} from './scrape.js';

// The soak (issue 13): a controller holding 20 engines for BENCH_SOAK_MINUTES (30) under churn, sampled
// every 10 s. Churn: every second one stream starts and the oldest of the open ones ends (10 stay open,
// so engines go busy and free), alternating the native routes (acquire, DELETE) with the compat ones a
// proxy uses (GET /engines, POST /events/stream_started and stream_ended); every 30 s one ready engine is
// killed with `docker kill` and must be answering again (a new container, ready in the API) within 30 s;
// every minute the pools file is saved the way editors save (new file renamed over) with minFree
// flipped between 1 and 2, which bumps the pool's generation without changing its template (no
// rollout: min = max = 20 holds the count), and observedGeneration must catch up within 30 s.
// Samples: the controller's RSS (/proc/<pid>/status VmRSS), open descriptors (/proc/<pid>/fd), heap
// used (nodejs_heap_size_used_bytes), event-loop delay (enginepool_event_loop_delay_seconds, p99 per
// window and over the run), and the latency of one GET /livez as the user-visible side of the lag.
// Goals: flat after warm-up (the first sixth of the run): RSS growth <= 5 MB (hard 20), no descriptor
// growth (hard 10), loop delay p99 <= 50 ms (hard 200). Growth is the median of the last sixth of the
// samples after warm-up minus that of the first sixth; the slope of a least-squares line is beside.
//
// Env: BENCH_SOAK_MINUTES (30), BENCH_LOG_LEVEL, BENCH_LOG_FILE (as the startup benchmark).
// Ports: BENCH_PORT_BASE + 400 .. + 474 (the pool: 25 host ports, its p2p and API blocks above them),
// + 490 (the controller's API). Containers: bench-soak-*.

const run = promisify(execFile);
const MINUTES = Number(process.env.BENCH_SOAK_MINUTES ?? 30);
const RUN_MS = MINUTES * 60_000;
const WARMUP_MS = RUN_MS / 6;
const POOL = 'bench-soak';
const ENGINES = 20;
const OPEN_STREAMS = 10;
const SAMPLE_MS = 10_000;
const KILL_MS = 30_000;
const EDIT_MS = 60_000;
const CHURN_MS = 1_000;
/** A killed engine must answer again, and an edit be observed, within this. */
const DEADLINE_MS = 30_000;
/** Growth compares the medians of the first and the last sixth of the samples after warm-up, at least this many. */
const MIN_EDGE_SAMPLES = 3;
const MIB = 2 ** 20;
/** Issue 13's goals are in MB (10^6 bytes); RSS is read in MiB, so the goals are converted. */
const MB = 1e6 / MIB;

const base = portBase() + 400;
const yaml = (minFree: number) =>
  poolYaml(POOL, {
    range: `${base}-${base + 24}`,
    replicas: `{ minFree: ${minFree}, min: ${ENGINES}, max: ${ENGINES} }`,
  })
    // Why: probes as production would (the harness's 1 s probe is for tests), as the idle benchmark does.
    .replace('intervalSeconds: 1\n', 'intervalSeconds: 10\n')
    .replace('timeoutSeconds: 1\n', 'timeoutSeconds: 3\n');

/** One reading of the controller. */
interface Sample {
  readonly minutes: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly fds: number;
  /** p99 of the loop delay since the previous sample, in ms. */
  readonly lagP99Ms: number;
  readonly livezMs: number;
  /** Engines with an open stream, and ready ones, in the controller's API. */
  readonly used: number;
  readonly ready: number;
}

/** What the churn did and what failed. */
class Churn {
  streamsStarted = 0;
  streamsEnded = 0;
  /** Ends answered "not open" (or "no such engine"): the stream ended with its engine, killed meanwhile. */
  streamsGoneWithEngine = 0;
  kills = 0;
  replaced = 0;
  edits = 0;
  editsObserved = 0;
  readonly replaceMs: number[] = [];
  readonly observeMs: number[] = [];
  /** API calls that failed (status or transport), by what they did. */
  readonly apiErrors = new Map<string, number>();
  readonly notReplaced: string[] = [];
  readonly notObserved: number[] = [];
  readonly firstErrors: string[] = [];

  fail(what: string, detail: string): void {
    this.apiErrors.set(what, (this.apiErrors.get(what) ?? 0) + 1);
    if (this.firstErrors.length < 10) this.firstErrors.push(`${what}: ${detail}`);
  }

  get apiErrorCount(): number {
    return [...this.apiErrors.values()].reduce((sum, n) => sum + n, 0);
  }
}

/** Runs `step` every `periodMs` from `firstMs` on until `end` (a late step starts the next one at once). */
async function every(
  periodMs: number,
  end: number,
  step: (i: number) => Promise<void>,
  firstMs = 0,
): Promise<void> {
  if (firstMs > 0) await sleep(firstMs);
  for (let i = 0, next = performance.now(); next < end; i++) {
    await step(i);
    next += periodMs;
    const wait = Math.min(next, end) - performance.now();
    if (wait > 0) await sleep(wait);
  }
}

async function streamChurn(ctl: ControllerProcess, churn: Churn, end: number): Promise<void> {
  const open: { id: string; engine: string; containerId: string; native: boolean }[] = [];
  const auth = { token: ctl.token };
  await every(CHURN_MS, end, async (i) => {
    const id = `soak-${i}`;
    const native = i % 2 === 0;
    try {
      if (native) {
        const { status, body, text } = await ctl.api(`/api/v1/pools/${POOL}/acquire`, {
          ...auth,
          method: 'POST',
          body: { id },
        });
        if (status === 201 || status === 200) {
          open.push({ id, engine: body.engine.name, containerId: body.engine.containerId, native });
          churn.streamsStarted++;
        } else churn.fail('acquire', `${status} ${text.slice(0, 120)}`);
      } else {
        // As acexy does: list the engines, take the least used healthy one, report the stream on it.
        const listed = await ctl.api(`/engines?pool=${POOL}`, auth);
        const engine = (
          listed.body as
            | { container_id: string; host: string; port: number; streams: string[]; health_status: string }[]
            | undefined
        )
          ?.filter((e) => e.health_status === 'healthy')
          .sort((a, b) => a.streams.length - b.streams.length)[0];
        if (!engine) churn.fail('compat GET /engines', `${listed.status}: no healthy engine`);
        else {
          const { status, text } = await ctl.api('/events/stream_started', {
            ...auth,
            method: 'POST',
            body: {
              container_id: engine.container_id,
              engine: { host: engine.host, port: engine.port },
              stream: { key_type: 'content_id', key: id },
              session: { playback_session_id: '' },
              labels: { stream_id: id },
            },
          });
          if (status === 200 || status === 201) {
            open.push({ id, engine: '', containerId: engine.container_id, native });
            churn.streamsStarted++;
          } else churn.fail('compat stream_started', `${status} ${text.slice(0, 120)}`);
        }
      }
    } catch (error) {
      churn.fail(native ? 'acquire' : 'compat stream_started', (error as Error).message);
    }
    if (open.length <= OPEN_STREAMS) return;
    const oldest = open.shift()!;
    try {
      const { status, body, text } = oldest.native
        ? await ctl.api(`/api/v1/pools/${POOL}/engines/${oldest.engine}/streams/${oldest.id}`, {
            ...auth,
            method: 'DELETE',
          })
        : await ctl.api('/events/stream_ended', {
            ...auth,
            method: 'POST',
            body: { stream_id: oldest.id, container_id: oldest.containerId, reason: 'client_disconnected' },
          });
      // Why 404 is no failure: the engine named in the route was killed and is not listed again yet.
      if (oldest.native && status === 404 && body?.error?.code === 'engine_not_found')
        churn.streamsGoneWithEngine++;
      else if (status !== 200)
        churn.fail(
          oldest.native ? 'DELETE stream' : 'compat stream_ended',
          `${status} ${text.slice(0, 120)}`,
        );
      else if (oldest.native ? body.ended : body.updated) churn.streamsEnded++;
      else churn.streamsGoneWithEngine++;
    } catch (error) {
      churn.fail(oldest.native ? 'DELETE stream' : 'compat stream_ended', (error as Error).message);
    }
  });
}

interface EngineView {
  name: string;
  containerId: string;
  state: string;
}

async function killChurn(ctl: ControllerProcess, churn: Churn, end: number): Promise<void> {
  await every(KILL_MS, end, async (i) => {
    let victim: EngineView | undefined;
    try {
      const ready = ((await ctl.engines(POOL)) as EngineView[]).filter((e) => e.state === 'ready');
      victim = ready[(i * 7) % Math.max(1, ready.length)];
    } catch (error) {
      churn.fail('GET engines', (error as Error).message);
    }
    if (!victim) return;
    const killedAt = performance.now();
    try {
      await run('docker', ['kill', victim.containerId]);
    } catch (error) {
      churn.fail('docker kill', (error as Error).message);
      return;
    }
    churn.kills++;
    const { name, containerId } = victim;
    const killedWall = new Date().toISOString();
    try {
      await waitFor(
        `${name} replaced`,
        async () =>
          ((await ctl.engines(POOL)) as EngineView[]).some(
            (e) => e.name === name && e.containerId !== containerId && e.state === 'ready',
          ) || undefined,
        { timeoutMs: DEADLINE_MS },
      );
      churn.replaced++;
      churn.replaceMs.push(performance.now() - killedAt);
      console.log(
        `${killedWall} killed ${name}: ready again after ${((performance.now() - killedAt) / 1000).toFixed(2)} s`,
      );
    } catch {
      churn.notReplaced.push(name);
      console.log(`${killedWall} killed ${name}: not ready again within ${DEADLINE_MS / 1000} s`);
    }
  });
}

async function editChurn(ctl: ControllerProcess, churn: Churn, end: number): Promise<void> {
  // Why the phase: an edit at the moment of a kill would wait for the pass that replaces the engine,
  // measuring the kill rather than the edit. The first edit comes a minute and a quarter in.
  await every(
    EDIT_MS,
    end,
    async (i) => {
      let before: number;
      try {
        before = (await ctl.pool(POOL)).generation;
      } catch (error) {
        churn.fail('GET pool', (error as Error).message);
        return;
      }
      const savedAt = performance.now();
      const minFree = i % 2 === 0 ? 2 : 1;
      ctl.edit(yaml(minFree));
      churn.edits++;
      const savedWall = new Date().toISOString();
      try {
        await waitFor(
          'the edit observed',
          async () => {
            const pool = await ctl.pool(POOL);
            return (pool.generation > before && pool.observedGeneration >= pool.generation) || undefined;
          },
          { timeoutMs: DEADLINE_MS },
        );
        churn.editsObserved++;
        churn.observeMs.push(performance.now() - savedAt);
        console.log(
          `${savedWall} saved minFree ${minFree}: observed after ${((performance.now() - savedAt) / 1000).toFixed(2)} s`,
        );
      } catch {
        churn.notObserved.push(i);
        console.log(`${savedWall} saved minFree ${minFree}: not observed within ${DEADLINE_MS / 1000} s`);
      }
    },
    EDIT_MS + EDIT_MS / 4,
  );
}

async function sampler(
  ctl: ControllerProcess,
  churn: Churn,
  start: number,
  end: number,
  samples: Sample[],
): Promise<Buckets[]> {
  const pid = ctl.pid!;
  const buckets: Buckets[] = [];
  await every(SAMPLE_MS, end + 1, async () => {
    try {
      await sample();
    } catch (error) {
      churn.fail('sample', (error as Error).message);
    }
  });
  return buckets;

  async function sample(): Promise<void> {
    const from = performance.now();
    await http(`${ctl.url}/livez`);
    const livezMs = performance.now() - from;
    const text = await scrape(ctl.url);
    const loop = histogramBuckets(text, LOOP_DELAY);
    const pool = await ctl.pool(POOL);
    samples.push({
      minutes: (performance.now() - start) / 60_000,
      rssMiB: processUsage(pid).rssKiB / 1024,
      heapMiB: seriesValue(text, 'nodejs_heap_size_used_bytes') / MIB,
      fds: readdirSync(`/proc/${pid}/fd`).length,
      lagP99Ms: buckets.length > 0 ? quantileBetween(buckets.at(-1)!, loop, 0.99) * 1000 : Number.NaN,
      livezMs,
      used: pool.replicas.used,
      ready: pool.replicas.ready,
    });
    buckets.push(loop);
  }
}

/** Growth after warm-up: median of the last samples minus median of the first ones, and the fitted slope per hour. */
/**
 * How many samples each end of the comparison takes. Why a sixth, not a few: the heap is a sawtooth of
 * about 5 minutes, and 3 samples (30 s) at each end read where in it the run ended (+4.9 MiB in a
 * 30-minute run whose RSS was flat from minute 10; +2.0 MiB with 25 samples).
 */
function edgeSamples(afterWarmup: number): number {
  return Math.max(MIN_EDGE_SAMPLES, Math.floor(afterWarmup / 6));
}

function growth(
  samples: readonly Sample[],
  value: (s: Sample) => number,
): { growth: number; perHour: number } {
  const after = samples.filter((s) => s.minutes * 60_000 >= WARMUP_MS);
  const edge = edgeSamples(after.length);
  const head = after.slice(0, edge).map(value);
  const tail = after.slice(-edge).map(value);
  const xs = after.map((s) => s.minutes / 60);
  const ys = after.map(value);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const sxx = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
  const sxy = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i]! - my), 0);
  return { growth: median(tail) - median(head), perHour: sxx > 0 ? sxy / sxx : Number.NaN };
}

async function cleanUp(ctl?: ControllerProcess): Promise<void> {
  await ctl?.stop('SIGTERM');
  await removeContainers({ pool: POOL });
}

async function main(): Promise<void> {
  await cleanUp();
  const ctl = new ControllerProcess(yaml(1), {
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    // Why: the harness's 2 s resync is for tests; the soak runs the production default.
    ENGINEPOOL_RESYNC_SECONDS: '10',
  });
  ctl.port = portBase() + 490;
  await withController(
    ctl,
    () => cleanUp(ctl),
    async () => {
      await ctl.start();
      await waitFor(
        `${ENGINES} ready engines`,
        async () => ((await ctl.pool(POOL))?.replicas?.ready === ENGINES ? true : undefined),
        { timeoutMs: 120_000 },
      );
      const churn = new Churn();
      const samples: Sample[] = [];
      const start = performance.now();
      const end = start + RUN_MS;
      console.log(
        `soak: ${MINUTES} min, warm-up ${(WARMUP_MS / 60_000).toFixed(1)} min, sampling every ${SAMPLE_MS / 1000} s`,
      );
      const [buckets] = await Promise.all([
        sampler(ctl, churn, start, end, samples),
        streamChurn(ctl, churn, end),
        killChurn(ctl, churn, end),
        editChurn(ctl, churn, end),
      ]);
      report(samples, buckets, churn);
    },
  );
}

function report(samples: readonly Sample[], buckets: readonly Buckets[], churn: Churn): void {
  const rss = growth(samples, (s) => s.rssMiB);
  const heap = growth(samples, (s) => s.heapMiB);
  const fds = growth(samples, (s) => s.fds);
  const lagP99 = quantileBetween(buckets[0]!, buckets.at(-1)!, 0.99) * 1000;
  const lagMax = Math.max(...samples.map((s) => s.lagP99Ms).filter(Number.isFinite));
  const livez = samples.map((s) => s.livezMs);
  const mb = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} MiB`;

  const rows = samples
    .filter((_, i) => i % 6 === 0 || i === samples.length - 1)
    .map((s) => [
      s.minutes.toFixed(1),
      s.rssMiB.toFixed(1),
      s.heapMiB.toFixed(1),
      String(s.fds),
      Number.isFinite(s.lagP99Ms) ? s.lagP99Ms.toFixed(1) : '-',
      s.livezMs.toFixed(1),
      String(s.used),
      String(s.ready),
    ]);
  const headers = ['minute', 'RSS MiB', 'heap MiB', 'fds', 'loop p99 ms', 'GET /livez ms', 'used', 'ready'];
  const errors = [...churn.apiErrors].map(([what, n]) => `${what} ${n}`).join(', ') || 'none';
  const counts: [string, string][] = [
    [
      'streams started / ended',
      `${churn.streamsStarted} / ${churn.streamsEnded} (${churn.streamsGoneWithEngine} more ended with a killed engine)`,
    ],
    ['API calls failed', `${churn.apiErrorCount} (${errors})`],
    [
      'engines killed / replaced within 30 s',
      `${churn.kills} / ${churn.replaced}, kill -> ready in the API median ${(median(churn.replaceMs) / 1000).toFixed(2)} s, max ${(Math.max(...churn.replaceMs) / 1000).toFixed(2)} s`,
    ],
    [
      'file edits / observed within 30 s',
      `${churn.edits} / ${churn.editsObserved}, save -> observedGeneration median ${(median(churn.observeMs) / 1000).toFixed(2)} s, max ${(Math.max(...churn.observeMs) / 1000).toFixed(2)} s`,
    ],
  ];
  console.log(table(headers, rows));
  console.log(`\n${table(['churn', 'count'], counts)}`);
  if (churn.firstErrors.length > 0) console.log(`\nfirst errors:\n  ${churn.firstErrors.join('\n  ')}`);

  const edge = edgeSamples(samples.filter((s) => s.minutes * 60_000 >= WARMUP_MS).length);
  const flat = `after ${(WARMUP_MS / 60_000).toFixed(1)} min warm-up, medians of the last ${edge} vs the first ${edge} samples`;
  const results: ResultRow[] = [
    {
      goal: `soak ${MINUTES} min: RSS growth`,
      measured: `${mb(rss.growth)} (${mb(rss.perHour)}/h fitted; heap ${mb(heap.growth)}, ${mb(heap.perHour)}/h), ${flat}`,
      anchor: 'the first samples after warm-up',
      goalText: `<= 5 MB (${(5 * MB).toFixed(2)} MiB; hard 20 MB)`,
      verdict: verdict(rss.growth, 5 * MB, 20 * MB),
    },
    {
      goal: `soak ${MINUTES} min: open file descriptors`,
      measured: `${fds.growth >= 0 ? '+' : ''}${fds.growth} (${fds.perHour.toFixed(1)}/h fitted), ${samples.at(-1)?.fds} at the end`,
      anchor: 'the first samples after warm-up',
      goalText: 'no growth (hard +10)',
      verdict: verdict(fds.growth, 0, 10),
    },
    {
      goal: `soak ${MINUTES} min: event-loop delay p99`,
      measured: `${lagP99.toFixed(1)} ms over the run (worst 10 s window ${lagMax.toFixed(1)} ms); GET /livez median ${median(livez).toFixed(1)} ms, p99 ${percentile(livez, 99).toFixed(1)} ms`,
      goalText: '<= 50 ms (hard 200 ms)',
      verdict: verdict(lagP99, 50, 200),
    },
    {
      goal: `soak ${MINUTES} min: churn`,
      measured: `${churn.streamsStarted} streams started, ${churn.kills} kills (${churn.replaced} replaced), ${churn.edits} edits (${churn.editsObserved} observed), ${churn.apiErrorCount} API calls failed`,
      goalText: 'every kill replaced and edit observed within 30 s (else FAIL), no failed call (else WARN)',
      verdict:
        churn.notReplaced.length + churn.notObserved.length > 0
          ? 'FAIL'
          : churn.apiErrorCount > 0
            ? 'WARN'
            : 'PASS',
    },
  ];
  recordResults(results);

  recordSection({
    title: `Soak: ${MINUTES} minutes with churn`,
    markdown: [
      `A controller holding ${ENGINES} engines for ${MINUTES} minutes: a stream started and the oldest ended every second (${OPEN_STREAMS} open), one engine killed every 30 s, the file saved every minute (minFree flipped). Warm-up: the first ${(WARMUP_MS / 60_000).toFixed(1)} minutes.`,
      '',
      markdownTable(['churn', 'count'], counts),
      '',
      markdownTable(headers, rows),
    ].join('\n'),
  });
  const points = (value: (s: Sample) => number) =>
    samples
      .filter((s) => Number.isFinite(value(s)))
      .map((s) => [Number(s.minutes.toFixed(2)), Number(value(s).toFixed(2))] as const);
  const memory = { plot: 'soak-memory', title: 'Soak: controller memory', xLabel: 'minutes', yLabel: 'MiB' };
  recordSeries({ ...memory, name: 'RSS', points: points((s) => s.rssMiB) });
  recordSeries({ ...memory, name: 'heap used', points: points((s) => s.heapMiB) });
  recordSeries({
    plot: 'soak-fds',
    title: 'Soak: open file descriptors',
    xLabel: 'minutes',
    yLabel: 'descriptors',
    name: 'controller',
    points: points((s) => s.fds),
  });
  const lag = {
    plot: 'soak-lag',
    title: 'Soak: event-loop delay and API latency',
    xLabel: 'minutes',
    yLabel: 'ms',
  };
  recordSeries({ ...lag, name: 'loop delay p99 (10 s window)', points: points((s) => s.lagP99Ms) });
  recordSeries({ ...lag, name: 'GET /livez', points: points((s) => s.livezMs) });
}

await main();
