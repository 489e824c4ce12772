import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { httpProbe } from '../controllers/http/client.js';
import { createDockerRuntime } from '../controllers/runtime/docker/dockerRuntime.js';
import type { RuntimeEvent } from '../controllers/runtime/runtime.js';
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
import { median, ms, recordResults, table, verdict } from './report.js';

// Goal 1: from a file edit asking for 0 -> 20 engines to all 20 answering their health path, against 20
// parallel `docker run -d -p P:P` of the same image and arguments until each answers, alternating the two
// in the same run. Goal 3 (informative): the controller's RSS and CPU while it holds 20 ready engines.
//
// The controller runs all along with a file holding a one-engine pool (`bench-idle`); a round adds the
// `bench` pool (min = max = 20) by an editor-style save (write a new file, rename it over the old one).
// Both clocks stop when the bench itself has seen all 20 engines answer on their host ports, polled the
// same way in both modes. Docker's event stream gives each round's breakdown: when the first container
// was created, when the last one was started.

const run = promisify(execFile);

const ENGINES = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP ?? 1);
/** Host ports (all within 23000-23999, the range this benchmark may use). */
const BASELINE_RANGE = { start: 23000, end: 23000 + ENGINES - 1 };
const POOL_RANGE = { start: 23100, end: 23100 + ENGINES - 1 };
const IDLE_RANGE = { start: 23200, end: 23201 };
const API_PORT = 23990;
const HEALTH_PATH = '/webui/api/service?method=get_version';
const BASELINE_LABEL = 'io.enginepool.bench';
const POLL_MS = 20;
const ROUND_TIMEOUT_MS = 60_000;
const HOLD_SAMPLE_MS = 10_000;

const GOAL_RATIO = 1.1;
const HARD_RATIO = 1.5;

const sleep = (msToWait: number) => new Promise((resolve) => setTimeout(resolve, msToWait));
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

const idleDoc = poolYaml('bench-idle', {
  range: `${IDLE_RANGE.start}-${IDLE_RANGE.end}`,
  replicas: '{ minFree: 1, max: 1 }',
});
const benchDoc = poolYaml('bench', {
  range: `${POOL_RANGE.start}-${POOL_RANGE.end}`,
  replicas: `{ minFree: 1, min: ${ENGINES}, max: ${ENGINES} }`,
});

/** Polls every port's health path until all answer 200; resolves with the time the last one did. */
async function allAnswer(hostPorts: readonly number[]): Promise<number> {
  const deadline = performance.now() + ROUND_TIMEOUT_MS;
  const times = await Promise.all(
    hostPorts.map(async (port) => {
      for (;;) {
        const result = await httpProbe(`http://127.0.0.1:${port}${HEALTH_PATH}`, 1000);
        if (result.ok) return performance.now();
        if (performance.now() > deadline) throw new Error(`port ${port} did not answer: ${result.error}`);
        await sleep(POLL_MS);
      }
    }),
  );
  return Math.max(...times);
}

/** Create, start and destroy times (ms since the epoch) of `bench*` containers, from Docker's events. */
class EventLog {
  private readonly abort = new AbortController();
  private readonly events: { name: string; action: string; at: number }[] = [];

  async start(): Promise<void> {
    const stream = await createDockerRuntime().events({ signal: this.abort.signal });
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
    this.events.push({ name, action, at });
  }

  /** The first create and the last start of containers whose name matches, at or after `since`. */
  span(since: number, match: (name: string) => boolean): { firstCreate: number; lastStart: number } {
    const mine = this.events.filter((e) => e.at >= since - 5 && match(e.name));
    const creates = mine.filter((e) => e.action === 'create').map((e) => e.at);
    const starts = mine.filter((e) => e.action === 'start').map((e) => e.at);
    return { firstCreate: Math.min(...creates), lastStart: Math.max(...starts) };
  }

  /** Names of bench containers destroyed between `since` and `until`: during a round, someone else did it. */
  destroyed(since: number, until: number): string[] {
    return this.events
      .filter((e) => e.action === 'destroy' && e.at >= since && e.at <= until)
      .map((e) => e.name);
  }

  stop(): void {
    this.abort.abort();
  }
}

/** The two ways of getting 20 engines up. */
type Mode = 'docker run' | 'controller';

/** One timed round. */
interface Round {
  readonly mode: Mode;
  readonly totalMs: number;
  /** From the edit to the controller's log line saying it loaded the file (controller rounds only). */
  readonly loadedMs?: number;
  /** From the start of the round to Docker's first create event. */
  readonly firstCreateMs: number;
  /** From the start of the round to Docker's last start event. */
  readonly lastStartMs: number;
}

/** Starts 20 engines one way; resolves with the round's start and end (epoch ms) and its duration. */
async function startTwenty(mode: Mode, ctl: ControllerProcess): Promise<{ wall: number; totalMs: number }> {
  const wall = Date.now();
  const started = performance.now();
  if (mode === 'controller') {
    ctl.edit(`${idleDoc}---\n${benchDoc}`);
    return { wall, totalMs: (await allAnswer(ports(POOL_RANGE))) - started };
  }
  const hostPorts = ports(BASELINE_RANGE);
  const runs = hostPorts.map((port, i) =>
    run('docker', [
      'run',
      '-d',
      '--name',
      `bench-base-${i + 1}`,
      '--label',
      `${BASELINE_LABEL}=baseline`,
      '-p',
      `${port}:${port}`,
      ENGINE_IMAGE,
      ...engineArgs(BASELINE_RANGE, port),
    ]),
  );
  const [answeredAt] = await Promise.all([allAnswer(hostPorts), Promise.all(runs)]);
  return { wall, totalMs: answeredAt - started };
}

/** Removes what {@link startTwenty} started: the controller's pool by an edit (then `docker rm -f`), the baseline by `docker rm -f`. */
async function removeTwenty(mode: Mode, ctl: ControllerProcess): Promise<void> {
  if (mode === 'docker run') return await removeBaseline();
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
    { intervalMs: 500 },
  );
}

/**
 * One round of `mode`, repeated when someone else destroyed a bench container meanwhile (other
 * controllers on this Docker engine may remove engines of pools they do not know).
 */
async function measure(mode: Mode, ctl: ControllerProcess, events: EventLog): Promise<Round> {
  for (let attempt = 1; ; attempt++) {
    const { wall, totalMs } = await startTwenty(mode, ctl);
    const ended = wall + totalMs;
    await removeTwenty(mode, ctl);
    // Why: dockerd finishes tearing down networks and proxies after `rm` returns; let it settle.
    await sleep(1000);
    const destroyed = events.destroyed(wall, ended);
    if (destroyed.length > 0) {
      console.error(
        `${mode}: discarded a round: ${destroyed.join(', ')} destroyed by someone else meanwhile`,
      );
      if (attempt >= 5) throw new Error(`${mode}: 5 rounds in a row were disturbed; try again later`);
      continue;
    }
    const match =
      mode === 'controller'
        ? (name: string) => /^bench-\d+$/.test(name)
        : (name: string) => name.startsWith('bench-base-');
    const span = events.span(wall, match);
    const loaded = ctl
      .logLines()
      .map((line) => ({ msg: line.msg, at: Date.parse(String(line.time)) }))
      .find((line) => line.msg === 'loaded the desired-state file' && line.at >= wall);
    return {
      mode,
      totalMs,
      ...(mode === 'controller' && loaded ? { loadedMs: loaded.at - wall } : {}),
      firstCreateMs: span.firstCreate - wall,
      lastStartMs: span.lastStart - wall,
    };
  }
}

async function removeBaseline(): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [BASELINE_LABEL] } });
  await removeContainers({ names: list.map((c) => c.Id) });
}

/** CPU time (user + system, in clock ticks of 10 ms) and memory of a process, from /proc. */
function processUsage(pid: number): { cpuTicks: number; rssKiB: number; hwmKiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  // Why: after ")" the fields start at stat's 3rd; utime and stime are the 14th and 15th.
  return { cpuTicks: Number(fields[11]) + Number(fields[12]), rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

async function cleanUp(ctl?: ControllerProcess): Promise<void> {
  await ctl?.stop();
  await removeBaseline();
  await removeContainers({ pool: 'bench' });
  await removeContainers({ pool: 'bench-idle' });
}

async function checkPortsFree(): Promise<void> {
  const wanted = new Set([...ports(BASELINE_RANGE), ...ports(POOL_RANGE), ...ports(IDLE_RANGE), API_PORT]);
  for (const container of await docker.listContainers({ all: true })) {
    const held = (container.Ports ?? []).map((p) => p.PublicPort).filter((p) => wanted.has(p));
    if (held.length > 0) {
      throw new Error(
        `container ${container.Names[0]} publishes port ${held.join(', ')}, which this benchmark needs (23000-23999)`,
      );
    }
  }
}

function printRounds(rounds: readonly Round[]): void {
  const rows = rounds.map((round, i) => [
    String(Math.floor(i / 2) + 1),
    round.mode,
    ms(round.totalMs),
    round.loadedMs === undefined ? '' : ms(round.loadedMs),
    ms(round.firstCreateMs),
    ms(round.lastStartMs),
    ms(round.totalMs - round.lastStartMs),
  ]);
  console.log(
    table(
      [
        'round',
        'mode',
        'edit/run -> 20 answer',
        'file loaded',
        'first create',
        'last start',
        'last start -> answer',
      ],
      rows,
    ),
  );
}

async function main(): Promise<void> {
  await cleanUp();
  await checkPortsFree();
  const events = new EventLog();
  await events.start();
  const ctl = new ControllerProcess(idleDoc, { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' });
  ctl.port = API_PORT;
  const stopOnSignal = () =>
    void cleanUp(ctl).finally(() => {
      rmSync(ctl.dir, { recursive: true, force: true });
      process.exit(130);
    });
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    await ctl.start();
    await allAnswer([IDLE_RANGE.start]);

    const rounds: Round[] = [];
    for (let i = 0; i < WARMUP_ROUNDS + ROUNDS; i++) {
      // Why: alternating which mode goes first cancels a drift in the machine's load within a pair.
      const order: Mode[] = i % 2 === 0 ? ['docker run', 'controller'] : ['controller', 'docker run'];
      const pair: Round[] = [];
      for (const mode of order) pair.push(await measure(mode, ctl, events));
      if (i < WARMUP_ROUNDS) continue;
      rounds.push(...pair);
      console.error(
        `round ${rounds.length / 2}: ${pair.map((r) => `${r.mode} ${ms(r.totalMs)}`).join(', ')}`,
      );
    }
    printRounds(rounds);

    const controllerMs = rounds.filter((r) => r.mode === 'controller').map((r) => r.totalMs);
    const baselineMs = rounds.filter((r) => r.mode === 'docker run').map((r) => r.totalMs);
    const pairRatios = controllerMs.map((c, i) => c / baselineMs[i]!);
    const ratio = median(controllerMs) / median(baselineMs);
    console.log(
      `\nmedians: controller ${ms(median(controllerMs))}, docker run ${ms(median(baselineMs))}; ` +
        `ratio of medians ${ratio.toFixed(2)}x; per-round ratios ${pairRatios.map((r) => r.toFixed(2)).join(', ')} ` +
        `(median ${median(pairRatios).toFixed(2)}x)`,
    );

    // Goal 3: hold 20 ready engines and sample the controller.
    ctl.edit(`${idleDoc}---\n${benchDoc}`);
    await allAnswer(ports(POOL_RANGE));
    await waitFor('the controller to see 20 ready engines', async () => {
      const pool = await ctl.pool('bench');
      return pool?.replicas?.ready === ENGINES ? true : undefined;
    });
    const pid = ctl.pid!;
    const before = processUsage(pid);
    const sampledFrom = performance.now();
    await sleep(HOLD_SAMPLE_MS);
    const after = processUsage(pid);
    const cpuPercent = ((after.cpuTicks - before.cpuTicks) * 10 * 100) / (performance.now() - sampledFrom);
    const rssMiB = after.rssKiB / 1024;
    const peakMiB = after.hwmKiB / 1024;
    console.log(
      `controller holding ${ENGINES + 1} ready engines (probed every 1 s): RSS ${rssMiB.toFixed(1)} MiB ` +
        `(peak ${peakMiB.toFixed(1)} MiB), CPU ${cpuPercent.toFixed(1)}% of one core over ${HOLD_SAMPLE_MS / 1000} s`,
    );

    recordResults([
      {
        goal: `0 -> ${ENGINES} engines ready, controller / docker run`,
        measured: `${ratio.toFixed(2)}x (${ms(median(controllerMs))} / ${ms(median(baselineMs))}, medians of ${ROUNDS})`,
        goalText: `<= ${GOAL_RATIO}x (hard ${HARD_RATIO}x)`,
        verdict: verdict(ratio, GOAL_RATIO, HARD_RATIO),
      },
      {
        goal: `controller holding ${ENGINES + 1} ready engines`,
        measured: `RSS ${rssMiB.toFixed(1)} MiB (peak ${peakMiB.toFixed(1)}), CPU ${cpuPercent.toFixed(1)}%`,
        goalText: 'informative',
        verdict: 'INFO',
      },
    ]);
  } finally {
    if (process.env.BENCH_LOG_FILE) writeFileSync(process.env.BENCH_LOG_FILE, ctl.logs);
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    events.stop();
    await cleanUp(ctl);
    rmSync(ctl.dir, { recursive: true, force: true });
  }
}

await main();
