import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { httpProbe } from '../controllers/http/client.js';
import { createDockerRuntime } from '../controllers/runtime/docker/dockerRuntime.js';
import type { RuntimeEvent } from '../controllers/runtime/runtime.js';
import { LABELS } from '../state/labels.js';
import { derivedPort } from '../state/spec/index.js';
import {
  ControllerProcess,
  docker,
  ENGINE_IMAGE,
  poolContainers,
  poolYaml,
  removeContainers,
  waitFor,
} from '../test/support/harness.js';
import { portBase, processUsage, sleep, withController } from './machine.js';
import {
  markdownTable,
  median,
  ms,
  percentile,
  recordResults,
  recordSection,
  recordSeries,
  table,
} from './report.js';

// From a file edit asking for 0 -> N engines to all N answering their health path (issue 13), for each N
// of BENCH_ENGINES (20 and 50), against two anchors measured in the same run, the modes alternating
// round by round: the Engine API driven directly at 4, 8 and N calls in flight (the anchor is the best
// of them, by median) and N parallel `docker run -d -p P:P` of the same image and arguments (informative).
// Then the controller's RSS and CPU while it holds N ready engines, and the config reload latency: an
// edit that bumps a pool's generation -> the controller's `observedGeneration` caught up.
//
// The controller runs all along with a file holding a one-engine pool (`bench-idle`); a round adds the
// `bench` pool (min = max = N) by an editor-style save (write a new file, rename it over the old one).
// Every clock stops when the bench itself has seen all N engines answer on their host ports, polled the
// same way in every mode; each port's first answer is kept for the plot of engines answering over time.
// Docker's event stream gives each round's breakdown: when the first container was created, when the
// last one was started.

const run = promisify(execFile);

/** The Ns: how many engines a round starts (BENCH_ENGINES, a list, default 20,50; each 1-99, the port layout's room). */
const ENGINE_COUNTS = (process.env.BENCH_ENGINES ?? '20,50').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP ?? 1);
/** Edits timed for the config reload latency (BENCH_RELOADS, 20). */
const RELOADS = Number(process.env.BENCH_RELOADS ?? 20);
const MAX_ENGINES = 99;
for (const n of ENGINE_COUNTS) {
  if (!Number.isInteger(n) || n < 1 || n > MAX_ENGINES) {
    throw new Error(`BENCH_ENGINES: ${n} is not a count from 1 to ${MAX_ENGINES} (the port layout's room)`);
  }
}
/**
 * Host ports, all within the 1,000 from BENCH_PORT_BASE (the range the benchmarks may use): the anchors'
 * engines +0..+98, the `bench` pool +100..+198, `bench-idle` +200..+201, the controller's API +290.
 */
const baselineRange = (n: number) => ({ start: portBase(), end: portBase() + n - 1 });
const poolRange = (n: number) => ({ start: portBase() + 100, end: portBase() + 100 + n - 1 });
const IDLE_RANGE = { start: portBase() + 200, end: portBase() + 201 };
const API_PORT = portBase() + 290;
const HEALTH_PATH = '/webui/api/service?method=get_version';
const BASELINE_LABEL = 'io.enginepool.bench';
/** The host port an anchor's engine publishes (the controller's engines carry LABELS.hostPort). */
const PORT_LABEL = 'io.enginepool.bench.port';
const POLL_MS = 20;
/** How often the reload latency reads the controller's observedGeneration. */
const RELOAD_POLL_MS = 5;
const ROUND_TIMEOUT_MS = 120_000;
const REMOVE_TIMEOUT_MS = 60_000;
const HOLD_SAMPLE_MS = 10_000;

const ports = (range: { start: number; end: number }) =>
  Array.from({ length: range.end - range.start + 1 }, (_, i) => range.start + i);

/** The engine arguments the pool template expands to, for a port of `range` (the baseline uses the same). */
function engineArgs(range: { start: number; end: number }, port: number): string[] {
  return [
    `--http-port=${port}`,
    `--api-port=${derivedPort(range, port, 'apiPort')}`,
    `--port=${derivedPort(range, port, 'p2pPort')}`,
    '--bind-all',
  ];
}

/**
 * The one-engine pool the controller holds all along. Its one engine is its one free engine, never
 * scaled down, so `scaleDownDelaySeconds` changes nothing here: the reload latency's edits change it to
 * bump the pool's generation without touching an engine.
 */
const idleDocWith = (scaleDownDelaySeconds: number) =>
  poolYaml('bench-idle', {
    range: `${IDLE_RANGE.start}-${IDLE_RANGE.end}`,
    replicas: `{ minFree: 1, max: 1, scaleDownDelaySeconds: ${scaleDownDelaySeconds} }`,
  });
const idleDoc = idleDocWith(300);
const benchDoc = (n: number) =>
  poolYaml('bench', {
    range: `${poolRange(n).start}-${poolRange(n).end}`,
    replicas: `{ minFree: 1, min: ${n}, max: ${n} }`,
  });

/**
 * Polls every port's health path until all answer 200; resolves with the times (performance.now()) each
 * first did. A port is polled once `started` says so (Docker reported the start of a container
 * publishing it). Why: polling all N ports every 20 ms from the edit on was up to 1,000 connections a
 * second into docker-proxy while dockerd created the engines: the same for every mode, but CPU taken
 * from what is measured. Gives up when `disturbed` names a container someone else destroyed meanwhile.
 */
async function allAnswer(
  hostPorts: readonly number[],
  disturbed: () => readonly string[] = () => [],
  started: (port: number) => boolean = () => true,
): Promise<number[]> {
  const deadline = performance.now() + ROUND_TIMEOUT_MS;
  return await Promise.all(
    hostPorts.map(async (port) => {
      for (;;) {
        const result = started(port)
          ? await httpProbe(`http://127.0.0.1:${port}${HEALTH_PATH}`, 1000)
          : { ok: false, error: 'no container publishing it started' };
        if (result.ok) return performance.now();
        const gone = disturbed();
        if (gone.length > 0) throw new Error(`${gone.join(', ')} destroyed by someone else`);
        if (performance.now() > deadline) throw new Error(`port ${port} did not answer: ${result.error}`);
        await sleep(POLL_MS);
      }
    }),
  );
}

/** Create, start and destroy times (ms since the epoch) of `bench*` containers, from Docker's events. */
class EventLog {
  private readonly abort = new AbortController();
  private readonly events: { name: string; action: string; at: number }[] = [];
  /** The last start event's time of a container publishing each host port. */
  private readonly lastStart = new Map<number, number>();

  async start(): Promise<void> {
    const stream = await createDockerRuntime({ dockerHost: process.env.DOCKER_HOST }).events({
      signal: this.abort.signal,
    });
    void (async () => {
      try {
        for await (const event of stream) this.add(event);
      } catch {
        // Aborted at the end of the run.
      }
    })();
  }

  private add(event: RuntimeEvent): void {
    const name = event.Actor?.Attributes?.name ?? '';
    const action = event.Action ?? '';
    if (!name.startsWith('bench') || !['create', 'start', 'destroy'].includes(action)) return;
    const at = event.timeNano !== undefined ? event.timeNano / 1e6 : (event.time ?? 0) * 1000;
    const attributes = event.Actor?.Attributes ?? {};
    const port = Number(attributes[LABELS.hostPort] ?? attributes[PORT_LABEL]) || undefined;
    this.events.push({ name, action, at });
    if (action === 'start' && port) this.lastStart.set(port, at);
  }

  /** True once Docker reported the start of a container publishing `port` at or after `since` (ms since the epoch). */
  started(port: number, since: number): boolean {
    return (this.lastStart.get(port) ?? Number.NEGATIVE_INFINITY) >= since - 5;
  }

  /** The first create and the last start of containers whose name matches, at or after `since`. */
  span(since: number, match: (name: string) => boolean): { firstCreate: number; lastStart: number } {
    const mine = this.events.filter((e) => e.at >= since - 5 && match(e.name));
    const creates = mine.filter((e) => e.action === 'create').map((e) => e.at);
    const starts = mine.filter((e) => e.action === 'start').map((e) => e.at);
    return { firstCreate: Math.min(...creates), lastStart: Math.max(...starts) };
  }

  /** Names of a round's containers (`match`) destroyed between `since` and `until`: during a round, someone else did it. */
  destroyed(since: number, until: number, match: (name: string) => boolean): string[] {
    return this.events
      .filter((e) => e.action === 'destroy' && e.at >= since && e.at <= until && match(e.name))
      .map((e) => e.name);
  }

  stop(): void {
    this.abort.abort();
  }
}

/**
 * The ways of getting N engines up: the controller, N parallel `docker run`s, and the Engine API
 * driven directly (create + start of the same body) with K calls in flight at once.
 */
type Mode = 'docker run' | 'controller' | `api ${number}`;

/** The concurrencies the Engine API anchor is swept at for N engines (none above N); the anchor is the best of them. */
const apiConcurrency = (n: number) => [...new Set([4, 8, n].filter((k) => k <= n))];
const modes = (n: number): Mode[] => [
  'docker run',
  'controller',
  ...apiConcurrency(n).map((k) => `api ${k}` as const),
];
/** A mode as the tables, the plot's legend and the summary name it. */
function modeName(mode: Mode, n: number): string {
  if (mode === 'docker run') return `${n} parallel docker run`;
  return mode === 'controller' ? 'controller' : `Engine API, ${mode.slice('api '.length)} at a time`;
}
/** Goal and hard limit of the controller against the Engine API anchor (median of rounds). */
const API_GOAL_RATIO = 1.05;
const API_HARD_RATIO = 1.5;
/** No round's ratio to the anchor above this (the goal's second half). */
const API_ROUND_GOAL = 1.1;

/** Set on Ctrl-C: no new container is created while the clean-up removes what exists. */
let stopping = false;

/** Creates and starts the anchor's N engines through the Engine API, `concurrency` at a time. */
async function apiStart(n: number, hostPorts: readonly number[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < hostPorts.length && !stopping) {
      const i = next++;
      const port = hostPorts[i]!;
      const container = await docker.createContainer({
        name: `bench-base-${i + 1}`,
        Image: ENGINE_IMAGE,
        Cmd: engineArgs(baselineRange(n), port),
        Labels: { [BASELINE_LABEL]: 'api', [PORT_LABEL]: String(port) },
        ExposedPorts: { [`${port}/tcp`]: {} },
        HostConfig: { PortBindings: { [`${port}/tcp`]: [{ HostPort: String(port) }] } },
      });
      await container.start();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** One timed round of one mode. */
interface Round {
  readonly mode: Mode;
  readonly totalMs: number;
  /** When each engine first answered, ms from the start of the round, ascending. */
  readonly answeredMs: readonly number[];
  /** From the edit to the controller's log line saying it loaded the file (controller rounds only). */
  readonly loadedMs?: number;
  /** From the start of the round to Docker's first create event. */
  readonly firstCreateMs: number;
  /** From the start of the round to Docker's last start event. */
  readonly lastStartMs: number;
}

/** Starts N engines one way; resolves with each engine's first answer, ms from the start, ascending. */
async function startRound(
  n: number,
  mode: Mode,
  ctl: ControllerProcess,
  disturbed: () => readonly string[],
  started: (port: number) => boolean,
): Promise<number[]> {
  const begun = performance.now();
  const fromStart = (times: readonly number[]) => times.map((t) => t - begun).sort((a, b) => a - b);
  if (mode === 'controller') {
    ctl.edit(`${idleDoc}---\n${benchDoc(n)}`);
    return fromStart(await allAnswer(ports(poolRange(n)), disturbed, started));
  }
  const hostPorts = ports(baselineRange(n));
  const launched = mode.startsWith('api ')
    ? apiStart(n, hostPorts, Number(mode.slice('api '.length)))
    : Promise.all(
        hostPorts.map((port, i) =>
          run('docker', [
            'run',
            '-d',
            '--name',
            `bench-base-${i + 1}`,
            '--label',
            `${BASELINE_LABEL}=baseline`,
            '--label',
            `${PORT_LABEL}=${port}`,
            '-p',
            `${port}:${port}`,
            ENGINE_IMAGE,
            ...engineArgs(baselineRange(n), port),
          ]),
        ),
      );
  const [answered] = await Promise.all([allAnswer(hostPorts, disturbed, started), launched]);
  return fromStart(answered);
}

/** Removes what {@link startRound} started: the controller's pool by an edit (then `docker rm -f`), the anchors' by `docker rm -f`. */
async function removeRound(mode: Mode, ctl: ControllerProcess): Promise<void> {
  if (mode !== 'controller') return await removeBaseline();
  const edited = Date.now();
  ctl.edit(idleDoc);
  await waitFor('the controller to load the file without the bench pool', () =>
    ctl
      .logLines()
      .some((l) => l.msg === 'loaded the desired-state file' && Date.parse(String(l.time)) >= edited),
  );
  // Why: whether a controller removes engines of a pool that left its file is its own rule (this one
  // does, for its own engines; others leave them alone), so the bench removes them itself, again until
  // none is left (a pass that started before the edit may still create one).
  await waitFor(
    'the bench pool to be gone',
    async () => {
      await removeContainers({ pool: 'bench' });
      return (await poolContainers('bench', true)).length === 0 ? true : undefined;
    },
    { intervalMs: 500, timeoutMs: REMOVE_TIMEOUT_MS },
  );
}

/** The names of a round's containers: the `bench` pool's engines, or the anchors'. */
function roundContainer(mode: Mode): (name: string) => boolean {
  return mode === 'controller'
    ? (name: string) => /^bench-\d+$/.test(name)
    : (name: string) => name.startsWith('bench-base-');
}

/**
 * One round of `mode`, repeated when someone else destroyed one of its containers meanwhile (on a
 * shared Docker engine: a test run's global clean-up, or a controller removing engines of pools it
 * does not know). Other bench-* containers (the soak's) do not count.
 */
async function measure(n: number, mode: Mode, ctl: ControllerProcess, events: EventLog): Promise<Round> {
  const match = roundContainer(mode);
  for (let attempt = 1; ; attempt++) {
    const wall = Date.now();
    const disturbed = () => events.destroyed(wall, Date.now(), match);
    // Why: a container destroyed under the round fails its start or stops its poll; that is the round's
    // disturbance, not the benchmark's failure.
    const started = (port: number) => events.started(port, wall);
    const answeredMs = await startRound(n, mode, ctl, disturbed, started).catch((error: unknown) => {
      if (disturbed().length > 0) return undefined;
      throw error;
    });
    await removeRound(mode, ctl);
    // Why: dockerd finishes tearing down networks and proxies after `rm` returns; let it settle.
    await sleep(1000);
    const destroyed = answeredMs ? events.destroyed(wall, wall + answeredMs.at(-1)!, match) : disturbed();
    if (!answeredMs || destroyed.length > 0) {
      console.error(
        `${mode}: discarded a round: ${destroyed.join(', ')} destroyed by someone else meanwhile`,
      );
      if (attempt >= 5) throw new Error(`${mode}: 5 rounds in a row were disturbed; try again later`);
      continue;
    }
    const span = events.span(wall, match);
    const loaded = ctl
      .logLines()
      .map((line) => ({ msg: line.msg, at: Date.parse(String(line.time)) }))
      .find((line) => line.msg === 'loaded the desired-state file' && line.at >= wall);
    return {
      mode,
      totalMs: answeredMs.at(-1)!,
      answeredMs,
      ...(mode === 'controller' && loaded ? { loadedMs: loaded.at - wall } : {}),
      firstCreateMs: span.firstCreate - wall,
      lastStartMs: span.lastStart - wall,
    };
  }
}

/** Removes the anchors' engines (by their label), again until Docker lists none. */
async function removeBaseline(): Promise<void> {
  await waitFor(
    "the anchors' engines to be gone",
    async () => {
      const list = await docker.listContainers({ all: true, filters: { label: [BASELINE_LABEL] } });
      await removeContainers({ names: list.map((c) => c.Id) });
      return list.length === 0 ? true : undefined;
    },
    { intervalMs: 500, timeoutMs: REMOVE_TIMEOUT_MS },
  );
}

async function cleanUp(ctl?: ControllerProcess): Promise<void> {
  await ctl?.stop();
  await removeBaseline();
  await removeContainers({ pool: 'bench' });
  await removeContainers({ pool: 'bench-idle' });
}

async function checkPortsFree(): Promise<void> {
  const most = Math.max(...ENGINE_COUNTS);
  const wanted = new Set([
    ...ports(baselineRange(most)),
    ...ports(poolRange(most)),
    ...ports(IDLE_RANGE),
    API_PORT,
  ]);
  for (const container of await docker.listContainers({ all: true })) {
    const held = (container.Ports ?? []).map((p) => p.PublicPort).filter((p) => wanted.has(p));
    if (held.length > 0) {
      throw new Error(
        `container ${container.Names[0]} publishes port ${held.join(', ')}, which this benchmark needs (${portBase()}-${portBase() + 999})`,
      );
    }
  }
}

/** The rounds as table rows (the console's table and the section's). */
function roundRows(n: number, rounds: readonly Round[]): { headers: string[]; rows: string[][] } {
  const perRound = modes(n).length;
  return {
    headers: [
      'round',
      'mode',
      `edit/spawn -> ${n} answer`,
      'file loaded',
      'first create',
      'last start',
      'last start -> answer',
    ],
    rows: rounds.map((round, i) => [
      String(Math.floor(i / perRound) + 1),
      modeName(round.mode, n),
      ms(round.totalMs),
      round.loadedMs === undefined ? '' : ms(round.loadedMs),
      ms(round.firstCreateMs),
      ms(round.lastStartMs),
      ms(round.totalMs - round.lastStartMs),
    ]),
  };
}

/** The round whose time is the median of `rounds` (the faster of the two middle ones for an even count). */
function medianRound(rounds: readonly Round[]): Round {
  const sorted = [...rounds].sort((a, b) => a.totalMs - b.totalMs);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Engines answering over time as a step line: [seconds from the start, engines answering]. */
function answeringCurve(round: Round): [number, number][] {
  const points: [number, number][] = [[0, 0]];
  round.answeredMs.forEach((t, i) => {
    const seconds = Number((t / 1000).toFixed(3));
    points.push([seconds, i], [seconds, i + 1]);
  });
  return points;
}

/** Holds N ready engines (+ `bench-idle`) and samples the controller's RSS and CPU over {@link HOLD_SAMPLE_MS}. */
async function footprint(n: number, ctl: ControllerProcess): Promise<string> {
  ctl.edit(`${idleDoc}---\n${benchDoc(n)}`);
  await allAnswer(ports(poolRange(n)));
  await waitFor(
    `the controller to see ${n} ready engines`,
    async () => ((await ctl.pool('bench'))?.replicas?.ready === n ? true : undefined),
    { timeoutMs: ROUND_TIMEOUT_MS },
  );
  const pid = ctl.pid!;
  const before = processUsage(pid);
  const sampledFrom = performance.now();
  await sleep(HOLD_SAMPLE_MS);
  const after = processUsage(pid);
  await removeRound('controller', ctl);
  const cpuPercent = ((after.cpuTicks - before.cpuTicks) * 10 * 100) / (performance.now() - sampledFrom);
  return (
    `RSS ${(after.rssKiB / 1024).toFixed(1)} MiB (peak ${(after.hwmKiB / 1024).toFixed(1)}), ` +
    `CPU ${cpuPercent.toFixed(1)}% of one core over ${HOLD_SAMPLE_MS / 1000} s`
  );
}

/** Every round of N engines, their verdicts, section and plot. */
async function startup(n: number, ctl: ControllerProcess, events: EventLog): Promise<void> {
  console.log(`\n-- 0 -> ${n} engines`);
  const list = modes(n);
  const rounds: Round[] = [];
  for (let i = 0; i < WARMUP_ROUNDS + ROUNDS; i++) {
    // Why: rotating which mode goes first cancels a drift in the machine's load within a round.
    const order = list.map((_, j) => list[(i + j) % list.length]!);
    const round: Round[] = [];
    for (const mode of order) round.push(await measure(n, mode, ctl, events));
    if (i < WARMUP_ROUNDS) continue;
    rounds.push(...round);
    console.error(
      `round ${i + 1 - WARMUP_ROUNDS}: ${round.map((r) => `${r.mode} ${ms(r.totalMs)}`).join(', ')}`,
    );
  }
  const { headers, rows } = roundRows(n, rounds);
  console.log(table(headers, rows));

  const of = (mode: Mode) => rounds.filter((r) => r.mode === mode);
  const times = (mode: Mode) => of(mode).map((r) => r.totalMs);
  const controllerMs = times('controller');
  const baselineMs = times('docker run');
  const sweep = apiConcurrency(n).map((k) => ({ k, ms: times(`api ${k}`) }));
  const best = [...sweep].sort((a, b) => median(a.ms) - median(b.ms))[0]!;
  const bestMode: Mode = `api ${best.k}`;
  const apiRatio = median(controllerMs) / median(best.ms);
  // Why: round i's controller time over round i's anchor time at the best concurrency: both ran in the
  // same rotation, so a drift in the machine's load between rounds cancels out.
  const apiRoundRatios = controllerMs.map((c, i) => c / best.ms[i]!);
  const runRoundRatios = controllerMs.map((c, i) => c / baselineMs[i]!);
  const runRatio = median(controllerMs) / median(baselineMs);
  const worstRound = Math.max(...apiRoundRatios);
  const ratios = (values: readonly number[]) => values.map((r) => r.toFixed(2)).join(', ');
  const sweepText = sweep.map(({ k, ms: v }) => `${k} at a time ${ms(median(v))}`).join(', ');
  const summary = [
    `Medians of ${ROUNDS} round(s): controller **${ms(median(controllerMs))}**; Engine API ${sweepText} ` +
      `(best: ${best.k} at a time); ${n} parallel \`docker run\` ${ms(median(baselineMs))}.`,
    `Controller / Engine API at ${best.k} at a time: ratio of medians **${apiRatio.toFixed(2)}x**; ` +
      `per round ${ratios(apiRoundRatios)} (worst ${worstRound.toFixed(2)}x).`,
    `Controller / ${n} parallel \`docker run\`: ratio of medians ${runRatio.toFixed(2)}x; per round ${ratios(runRoundRatios)}.`,
  ];
  console.log(`\n${summary.join('\n').replaceAll('**', '').replaceAll('`', '')}`);
  const held = await footprint(n, ctl);
  console.log(`controller holding ${n + 1} ready engines (probed every 1 s): ${held}`);

  const plot = `startup-${n}`;
  recordResults([
    {
      goal: `0 -> ${n} engines answering, controller / Engine API at its best concurrency`,
      anchor: `Engine API, ${best.k} at a time: ${ms(median(best.ms))} (sweep ${sweepText})`,
      measured: `${apiRatio.toFixed(2)}x (${ms(median(controllerMs))}, medians of ${ROUNDS}; rounds ${ratios(apiRoundRatios)})`,
      goalText: `<= ${API_GOAL_RATIO}x, no round above ${API_ROUND_GOAL}x (hard ${API_HARD_RATIO}x)`,
      verdict:
        apiRatio > API_HARD_RATIO
          ? 'FAIL'
          : apiRatio <= API_GOAL_RATIO && worstRound <= API_ROUND_GOAL
            ? 'PASS'
            : 'WARN',
    },
    {
      goal: `0 -> ${n} engines answering, controller / ${n} parallel docker run`,
      anchor: `${n} parallel docker run: ${ms(median(baselineMs))}`,
      measured: `${runRatio.toFixed(2)}x (rounds ${ratios(runRoundRatios)})`,
      goalText: 'informative (the old anchor)',
      verdict: 'INFO',
    },
    {
      goal: `controller holding ${n + 1} ready engines (probed every 1 s)`,
      measured: held,
      goalText: 'informative',
      verdict: 'INFO',
    },
  ]);
  recordSection({
    title: `0 -> ${n} engines answering`,
    markdown: [
      `Time from the save of the file (controller) or the spawn (anchors) until all ${n} engines answered ` +
        'their health path, polled by the bench every 20 ms. Within a round the modes rotate; the breakdown ' +
        "is from Docker's events (first create, last start) and the controller's log (file loaded).",
      '',
      markdownTable(headers, rows),
      '',
      ...summary.flatMap((line) => [line, '']),
      `Holding ${n} ready engines and \`bench-idle\` (probed every 1 s): ${held}.`,
      '',
      `The plot shows engines answering over time in the median round of the controller, of ${n} parallel ` +
        `\`docker run\` and of the Engine API at ${best.k} at a time.`,
    ].join('\n'),
    plots: [plot],
  });
  for (const mode of ['controller', 'docker run', bestMode] as const) {
    recordSeries({
      plot,
      title: `0 -> ${n} engines answering (median round of each mode)`,
      xLabel: 'seconds from the save (controller) or the spawn (anchors)',
      yLabel: 'engines answering',
      name: modeName(mode, n),
      points: answeringCurve(medianRound(of(mode))),
    });
  }
}

/**
 * Config reload latency: each of {@link RELOADS} edits changes `bench-idle`'s scaleDownDelaySeconds
 * (a new generation, no engine touched); the clock runs from the editor-style save until the pool's
 * `observedGeneration` on the controller's API reaches the new generation, read every 5 ms.
 */
async function reloadLatency(ctl: ControllerProcess): Promise<void> {
  const times: number[] = [];
  for (let i = 1; i <= RELOADS; i++) {
    const target = Number((await ctl.pool('bench-idle')).generation) + 1;
    const started = performance.now();
    ctl.edit(idleDocWith(300 + i));
    for (;;) {
      const pool = await ctl.pool('bench-idle');
      if (Number(pool?.observedGeneration) >= target) break;
      if (performance.now() - started > ROUND_TIMEOUT_MS) {
        throw new Error(`generation ${target} of bench-idle was not observed within ${ROUND_TIMEOUT_MS} ms`);
      }
      await sleep(RELOAD_POLL_MS);
    }
    times.push(performance.now() - started);
    // Why: each edit should meet a controller at rest, not the passes the previous one woke.
    await sleep(250);
  }
  ctl.edit(idleDoc);
  const figures = `median ${ms(median(times))}, p95 ${ms(percentile(times, 95))}, min ${ms(Math.min(...times))}, max ${ms(Math.max(...times))}`;
  console.log(`\n-- config reload (rename -> observedGeneration caught up), ${RELOADS} edits: ${figures}`);
  recordResults([
    {
      goal: 'config reload: rename of the file -> observedGeneration caught up',
      measured: `median ${ms(median(times))}, p95 ${ms(percentile(times, 95))} (${RELOADS} edits)`,
      goalText: 'informative',
      verdict: 'INFO',
    },
  ]);
  recordSection({
    title: 'Config reload latency',
    markdown: [
      `${RELOADS} editor-style saves of the file, each changing only \`bench-idle\`'s ` +
        "`scaleDownDelaySeconds` (a new generation, no engine touched); each timed until the pool's " +
        "`observedGeneration` on the controller's API (`GET /api/v1/pools/bench-idle`, read every " +
        `${RELOAD_POLL_MS} ms) reached the new generation: ${figures}.`,
      '',
      markdownTable(
        ['edit', 'rename -> observed'],
        times.map((t, i) => [String(i + 1), ms(t)]),
      ),
    ].join('\n'),
  });
}

async function main(): Promise<void> {
  await cleanUp();
  await checkPortsFree();
  const events = new EventLog();
  await events.start();
  const ctl = new ControllerProcess(idleDoc, { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' });
  ctl.port = API_PORT;
  await withController(
    ctl,
    async () => {
      events.stop();
      await cleanUp(ctl);
    },
    async () => {
      await ctl.start();
      await allAnswer([IDLE_RANGE.start]);
      for (const n of ENGINE_COUNTS) await startup(n, ctl, events);
      if (RELOADS > 0) await reloadLatency(ctl);
    },
    () => {
      stopping = true;
    },
  );
}

await main();
