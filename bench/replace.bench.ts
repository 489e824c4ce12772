import {
  answers,
  ControllerProcess,
  docker,
  ENGINE_IMAGE,
  poolContainers,
  poolYaml,
  removeContainers,
  waitFor,
} from '../test/support/harness.js';
import { portBase } from './machine.js';
import {
  markdownTable,
  median,
  ms,
  percentile,
  recordResults,
  recordSection,
  table,
  verdict,
} from './report.js';

// Replacement after `docker kill` (issue 13), against its anchor measured in the same run, alternating:
// one raw create + start of the same image and arguments through the Engine API until it answers its
// health path. The figure is the controller's time minus the anchor's (what the controller adds),
// median and p95 over BENCH_KILLS kills. Then all engines of a pool killed at once: time until every
// one answers again. Ports: BENCH_PORT_BASE + 300 .. + 349.

const KILLS = Number(process.env.BENCH_KILLS ?? process.env.BENCH_ROUNDS ?? 20);
const MASS = Number(process.env.BENCH_MASS_KILL ?? 20);
const POOL = 'bench-replace';
const RAW = 'bench-raw';
/** What the controller may add on top of a raw start (goal), and the hard limit. */
const GOAL_ADDED_MS = 300;
const HARD_ADDED_MS = 1_500;
const POLL_MS = 10;

/** One raw create + start of the engine image on `port` until it answers; resolves with the time it took. */
async function rawStart(port: number): Promise<number> {
  await removeContainers({ names: [RAW] });
  const started = performance.now();
  const container = await docker.createContainer({
    name: RAW,
    Image: ENGINE_IMAGE,
    Cmd: [`--http-port=${port}`, `--api-port=${port + 1}`, `--port=${port + 2}`, '--bind-all'],
    ExposedPorts: { [`${port}/tcp`]: {} },
    HostConfig: { PortBindings: { [`${port}/tcp`]: [{ HostPort: String(port) }] } },
  });
  await container.start();
  await waitFor('the raw engine to answer', () => answers(port), { intervalMs: POLL_MS });
  const took = performance.now() - started;
  await removeContainers({ names: [RAW] });
  return took;
}

/**
 * Kills `victims` at once; resolves when a new container of each name answers. One list per poll for
 * all of them: a list per victim every 10 ms was itself a load on dockerd when 20 died at once.
 */
async function killAndWait(victims: Awaited<ReturnType<typeof poolContainers>>): Promise<number> {
  const started = performance.now();
  await Promise.all(victims.map((v) => docker.getContainer(v.id).kill()));
  const waiting = new Map(victims.map((v) => [v.name, v.id]));
  await waitFor(
    `replacements of ${victims.map((v) => v.name).join(', ')} to answer`,
    async () => {
      const containers = await poolContainers(POOL);
      await Promise.all(
        [...waiting].map(async ([name, oldId]) => {
          const replacement = containers.find((c) => c.name === name && c.id !== oldId);
          if (replacement && (await answers(Number(replacement.labels['io.enginepool.host-port']))))
            waiting.delete(name);
        }),
      );
      return waiting.size === 0;
    },
    { intervalMs: POLL_MS, timeoutMs: 60_000 },
  );
  return performance.now() - started;
}

async function ready(ctl: ControllerProcess, engines: number): Promise<void> {
  await waitFor(
    `${engines} ready engines`,
    async () =>
      (await ctl.pool(POOL))?.replicas?.ready === engines && (await poolContainers(POOL)).length === engines,
    { timeoutMs: 60_000 },
  );
}

async function main(): Promise<void> {
  const base = portBase() + 300;
  await removeContainers({ pool: POOL });
  await removeContainers({ names: [RAW] });
  const ctl = new ControllerProcess(
    poolYaml(POOL, {
      range: `${base}-${base + 39}`,
      replicas: '{ minFree: 2, max: 4, scaleDownDelaySeconds: 600 }',
    }),
    { LOG_LEVEL: 'info' },
  );
  ctl.port = base + 49;
  const rows: string[][] = [];
  const controllerMs: number[] = [];
  const rawMs: number[] = [];
  let massMs = Number.NaN;
  try {
    await ctl.start();
    // Why: the first create of a template goes out alone (slow start); the kills measure a proven one.
    await ready(ctl, 2);
    for (let i = 0; i < KILLS; i++) {
      // Why: alternating which goes first cancels a drift in the machine's load within a pair.
      const raw = async () => rawMs.push(await rawStart(base + 40));
      if (i % 2 === 0) await raw();
      await ready(ctl, 2);
      const victim = (await poolContainers(POOL))[0]!;
      controllerMs.push(await killAndWait([victim]));
      if (i % 2 === 1) await raw();
      rows.push([String(i + 1), victim.name, ms(controllerMs.at(-1)!), ms(rawMs.at(-1)!)]);
    }
    if (MASS > 0) {
      ctl.edit(
        poolYaml(POOL, {
          range: `${base}-${base + 39}`,
          replicas: `{ minFree: 1, min: ${MASS}, max: ${MASS}, scaleDownDelaySeconds: 600 }`,
        }),
      );
      await ready(ctl, MASS);
      massMs = await killAndWait(await poolContainers(POOL));
    }
  } finally {
    await ctl.stop('SIGTERM');
    await removeContainers({ pool: POOL });
    await removeContainers({ names: [RAW] });
  }
  const headers = ['kill', 'engine', 'kill -> replacement answers', 'raw create+start -> answers'];
  console.log(table(headers, rows));
  const added = median(controllerMs) - median(rawMs);
  const addedP95 = percentile(controllerMs, 95) - percentile(rawMs, 95);
  const figures =
    `controller: median ${ms(median(controllerMs))}, p95 ${ms(percentile(controllerMs, 95))}; ` +
    `raw: median ${ms(median(rawMs))}, p95 ${ms(percentile(rawMs, 95))}; added: median ${ms(added)}, p95 ${ms(addedP95)}`;
  console.log(`\n${figures}`);
  const mass = MASS > 0 ? `${MASS} engines killed at once: all answer again after ${ms(massMs)}` : '';
  if (mass) console.log(mass);
  recordResults([
    {
      goal: 'docker kill -> replacement answering, minus a raw create+start',
      anchor: `one raw create+start+answer: median ${ms(median(rawMs))}, p95 ${ms(percentile(rawMs, 95))}`,
      measured: `+${ms(added)} median, +${ms(addedP95)} p95 (${ms(median(controllerMs))} median, ${KILLS} kills)`,
      goalText: `<= +${GOAL_ADDED_MS} ms (hard +${HARD_ADDED_MS} ms)`,
      verdict: verdict(added, GOAL_ADDED_MS, HARD_ADDED_MS),
    },
    ...(MASS > 0
      ? [
          {
            goal: `${MASS} engines killed at once -> all answering`,
            measured: ms(massMs),
            goalText: 'informative',
            verdict: 'INFO' as const,
          },
        ]
      : []),
  ]);
  recordSection({
    title: 'docker kill -> replacement answering',
    markdown: [
      `Each of ${KILLS} kills of engine 1 of \`${POOL}\` (\`minFree: 2\`) is timed from the \`docker kill\` until a ` +
        'new container of the same name answers its health path; each is paired, alternating which goes ' +
        'first, with one raw create + start of the same image and arguments through the Engine API until ' +
        `it answers (both polled every ${POLL_MS} ms).`,
      '',
      markdownTable(headers, rows),
      '',
      `${figures}.`,
      ...(mass ? ['', `${mass}.`] : []),
    ].join('\n'),
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
