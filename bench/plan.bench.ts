import { Controller } from '../controllers/loop/controller.js';
import { silentLogger } from '../controllers/observability/logger.js';
import { Metrics } from '../controllers/observability/metrics.js';
import type { Runtime } from '../controllers/runtime/runtime.js';
import { StreamRegistry } from '../controllers/streams/registry.js';
import type { StreamFacts } from '../reconcilers/engines.js';
import { planTick } from '../reconcilers/plan.js';
import type { Clock } from '../state/clock.js';
import type { ProbeRecord } from '../state/health.js';
import type { VpnView } from '../state/machines/vpnLifecycle.js';
import type { DockerContainerDetails, DockerContainerSummary } from '../state/observed.js';
import type { PoolSpec } from '../state/spec/index.js';
import { desired, engine, foreign, poolSpec, ready, view, world } from '../test/support/fixtures.js';
import {
  markdownTable,
  ms,
  percentile,
  recordResults,
  recordSection,
  recordSeries,
  table,
  verdict,
} from './report.js';

// Goal 2: planning one tick for 1,000 engines in under 5 ms. A synthetic Docker world of 10 pools x 100
// engines in every state the planner distinguishes (ready, used, starting, timed out, unhealthy, exited,
// outdated; two pools behind a VPN with a forwarded port), plus 200 foreign containers holding names and
// ports. Three timings: the pure `planTick`; observe's pure mapping plus `planTick` (what a pass computes
// from Docker's answers); and the controller's whole pass with a Docker that answers instantly.

const POOLS = 10;
const ENGINES_PER_POOL = 100;
const FOREIGN = 200;
/** The sizes of the growth curve (engines); a world of N has N/100 pools (at least 1) and N/5 foreign containers. */
const GROWTH = [10, 100, 1_000, 10_000];
/**
 * Why: the p99 column of a size is read from these samples; it was 20 at 10,000 engines, where the
 * interpolated p99 is the slowest call but one fifth. 100 calls of ~15 ms add ~1.5 s to the run.
 */
const GROWTH_MIN_ITERATIONS = 100;
const VPN_POOLS = new Set([8, 9]);
const NOW = 1_800_000_000_000;
const WARMUP = Number(process.env.BENCH_PLAN_WARMUP ?? 300);
const ITERATIONS = Number(process.env.BENCH_PLAN_ITERATIONS ?? 2000);
const LIMIT_MS = 5;
/** Issue 13's goal for the p99 of planTick at 1,000 engines. */
const GOAL_P99_MS = 2;

interface Synthetic {
  readonly pools: PoolSpec[];
  readonly list: DockerContainerSummary[];
  readonly vpnDetails: Record<string, DockerContainerDetails>;
  readonly stoppedBindings: Record<string, number[]>;
  readonly probes: Record<string, ProbeRecord>;
  readonly streams: Record<string, StreamFacts>;
  readonly vpns: Record<string, VpnView>;
}

/** The synthetic world: every pool has 150 ports, max 120, and engines 1-100 in a repeating mix of states. */
function synthetic(pools = POOLS, enginesPerPool = ENGINES_PER_POOL, foreignCount = FOREIGN): Synthetic {
  const out: Synthetic = {
    pools: [],
    list: [],
    vpnDetails: {},
    stoppedBindings: {},
    probes: {},
    streams: {},
    vpns: {},
  };
  for (let p = 0; p < pools; p++) {
    const start = 20_000 + p * 200;
    const end = start + 149;
    const gluetun = `gluetun-${p}`;
    const vpn = VPN_POOLS.has(p);
    const pool = poolSpec({
      name: `pool-${p}`,
      range: `${start}-${end}`,
      replicas: '{ minFree: 20, min: 10, max: 120, scaleDownDelaySeconds: 60 }',
      ...(vpn
        ? { extra: `  vpn:\n    gluetun:\n      container: ${gluetun}\n      forwardedPort: true\n` }
        : {}),
    });
    out.pools.push(pool);
    if (vpn) {
      const bindings = Object.fromEntries(
        Array.from({ length: 150 }, (_, i) => [`${start + i}/tcp`, [{ HostPort: String(start + i) }]]),
      );
      out.vpnDetails[gluetun] = {
        Id: `id-${gluetun}`,
        Name: `/${gluetun}`,
        State: { Status: 'running', Running: true, StartedAt: new Date(NOW - 7_200_000).toISOString() },
        HostConfig: { PortBindings: bindings },
      };
      out.list.push({ ...foreign(gluetun), Id: `id-${gluetun}` });
      out.vpns[pool.name] = {
        phase: 'healthy',
        forwardedPort: 40_000 + p,
        publicIp: '203.0.113.7',
        lastError: null,
        failures: 0,
        recoveredAt: null,
      };
    }
    for (let i = 1; i <= enginesPerPool; i++) {
      const id = `id-${pool.name}-${i}`;
      const kind = i % 20;
      const options = {
        port: start + i - 1,
        createdAt: NOW - 3_600_000,
        ...(kind === 17 ? { state: 'exited' } : {}),
        ...(kind === 18 ? { hash: 'old' } : {}),
        ...(vpn && i === 1 ? { forwarded: true, p2pPort: 40_000 + p } : {}),
      };
      out.list.push(engine(pool, i, options));
      if (kind <= 13 || kind >= 18) out.probes[id] = ready(NOW - 3_000_000);
      // Why: pools 0-4 are busy (every ready engine used: they grow), pools 5-9 half used (they roll).
      if (kind <= 13 && (p < 5 || i % 2 === 0)) out.streams[id] = { open: 1 + (i % 3) };
      if (kind === 14) out.probes[id] = { firstSeenAt: NOW - 5_000, consecutiveFailures: 2 };
      if (kind === 15) out.probes[id] = { firstSeenAt: NOW - 600_000, consecutiveFailures: 40 };
      if (kind === 16) out.probes[id] = { ...ready(NOW - 3_000_000), consecutiveFailures: 3 };
    }
  }
  for (let k = 0; k < foreignCount; k++) {
    const pool = k % pools;
    const port = 20_000 + pool * 200 + 130 + (k % 20);
    if (k % 4 === 0) {
      // A stopped container holding an engine's name and, through its bindings, a port.
      const stopped = foreign(`pool-${pool}-${101 + k}`, { state: 'exited' });
      out.list.push(stopped);
      out.stoppedBindings[stopped.Id] = [port];
    } else {
      out.list.push(foreign(`web-${k}`, { ports: [port] }));
    }
  }
  return out;
}

/** Times `fn` over warm-up and measured iterations; answers the per-call times in ms. */
function time(fn: () => number, iterations = ITERATIONS, warmup = WARMUP): number[] {
  let sink = 0;
  for (let i = 0; i < warmup; i++) sink += fn();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    sink += fn();
    times.push(performance.now() - started);
  }
  if (sink < 0) console.log(sink);
  return times;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times;
}

/** A Docker that answers the synthetic world at once and accepts every change (which it then forgets). */
function instantDocker(data: Synthetic): Runtime {
  const details = (id: string): DockerContainerDetails | undefined => {
    const vpn = data.vpnDetails[id];
    if (vpn) return vpn;
    const ports = data.stoppedBindings[id];
    return ports
      ? { Id: id, HostConfig: { PortBindings: { '80/tcp': ports.map((p) => ({ HostPort: String(p) })) } } }
      : { Id: id, State: { StartedAt: new Date(NOW - 3_600_000).toISOString() } };
  };
  let created = 0;
  const never = () => Promise.reject(new Error('not used by a pass'));
  return {
    ping: async () => {},
    version: never,
    listContainers: async () => data.list,
    inspectContainer: async (id) => details(id),
    createContainer: async () => `created-${created++}`,
    startContainer: async () => {},
    restartContainer: async () => {},
    removeContainer: async () => {},
    imageExists: async () => true,
    pullImage: never,
    checkPullable: never,
    networkExists: async () => true,
    events: never,
  };
}

/** A clock frozen at {@link NOW} whose timers never fire: a pass is timed alone, without probes or machines moving. */
const frozenClock: Clock = { now: () => NOW, setTimeout: () => 0, clearTimeout: () => {} };

function summarise(name: string, times: readonly number[]) {
  return {
    name,
    median: percentile(times, 50),
    p99: percentile(times, 99),
    max: Math.max(...times),
  };
}

async function main(): Promise<void> {
  const data = synthetic();
  const spec = desired(...data.pools);
  const observed = world(data.list, {
    vpns: data.vpnDetails,
    stoppedBindings: data.stoppedBindings,
    now: NOW,
  });
  const machineView = view({
    probes: data.probes,
    streams: data.streams,
    vpns: data.vpns,
    setAsidePorts: [20_000 + 140, 20_000 + 200 + 141],
  });
  const engines = observed.engines.length;
  const sample = planTick({ spec, world: observed, view: machineView, now: NOW });
  const kinds = new Map<string, number>();
  for (const action of sample.actions) kinds.set(action.kind, (kinds.get(action.kind) ?? 0) + 1);
  console.log(
    `synthetic world: ${POOLS} pools, ${engines} engines, ${data.list.length - engines} other containers; ` +
      `one plan: ${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(', ')}`,
  );

  const plan = summarise(
    'planTick',
    time(() => planTick({ spec, world: observed, view: machineView, now: NOW }).actions.length),
  );
  const mapped = summarise(
    'observeWorld + planTick',
    time(() => {
      const w = world(data.list, { vpns: data.vpnDetails, stoppedBindings: data.stoppedBindings, now: NOW });
      return planTick({ spec, world: w, view: machineView, now: NOW }).actions.length;
    }),
  );
  const logger = silentLogger();
  const controller = new Controller({
    docker: instantDocker(data),
    clock: frozenClock,
    logger,
    metrics: new Metrics(),
    specState: () => ({ spec, generations: new Map() }),
    registry: new StreamRegistry({ clock: frozenClock, logger }),
    self: () => ({ inContainer: false, networks: {}, dockerHost: '127.0.0.1' }),
    wake: () => {},
  });
  const pass = summarise(
    'whole pass, Docker answering at once',
    await timeAsync(() => controller.tickOnce()),
  );
  controller.close();

  const rows = [plan, mapped, pass];
  const headers = [`what (${engines.toLocaleString('en-US')} engines)`, 'median', 'p99', 'max'];
  const cells = rows.map((r) => [r.name, ms(r.median), ms(r.p99), ms(r.max)]);
  console.log(table(headers, cells));
  console.log(`(${ITERATIONS} timed iterations after ${WARMUP} warm-up ones)`);
  const curve = growth();
  recordResults([
    {
      goal: `planTick for ${engines.toLocaleString('en-US')} engines`,
      measured: `median ${ms(plan.median)}, p99 ${ms(plan.p99)}`,
      goalText: `p99 <= ${GOAL_P99_MS} ms (hard: median < ${LIMIT_MS} ms)`,
      // Why: the p99 of a 1 ms computation on a shared 2-core machine measures the neighbours and the
      // GC as much as the planner; only a typical (median) tick over the limit is a hard failure.
      verdict: plan.median >= LIMIT_MS ? 'FAIL' : verdict(plan.p99, GOAL_P99_MS, Number.POSITIVE_INFINITY),
    },
    {
      goal: `planTick growth, ${GROWTH[0]} -> ${GROWTH.at(-1)!.toLocaleString('en-US')} engines`,
      anchor: `per engine at ${GROWTH[1]} engines: ${curve.perEngine[1]!.toFixed(2)} µs`,
      measured: `per engine ${GROWTH.map((size, i) => `${size}: ${curve.perEngine[i]!.toFixed(2)} µs`).join(', ')}`,
      goalText: 'linear (informative)',
      verdict: 'INFO',
    },
    {
      goal: 'whole pass minus Docker I/O',
      anchor: `planTick alone: median ${ms(plan.median)}`,
      measured: `median ${ms(pass.median)}, p99 ${ms(pass.p99)}`,
      goalText: 'informative',
      verdict: 'INFO',
    },
  ]);
  recordSection({
    title: 'Planning a tick, and the growth curve',
    markdown: [
      `A synthetic world: ${POOLS} pools, ${engines} engines in every state the planner tells apart, ` +
        `${data.list.length - engines} other containers; one plan: ${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(', ')}. ` +
        `${ITERATIONS} timed iterations after ${WARMUP} warm-up ones.`,
      '',
      markdownTable(headers, cells),
      '',
      '`planTick` on worlds of each size (fewer iterations for larger worlds); a linear planner keeps the ' +
        'cost per engine flat.',
      '',
      markdownTable(curve.headers, curve.rows),
    ].join('\n'),
    plots: ['plan-growth'],
  });
  recordSeries({
    plot: 'plan-growth',
    title: 'planTick cost per engine by world size (flat = linear)',
    xLabel: 'engines in the world (log scale)',
    yLabel: 'µs per engine (median)',
    name: 'planTick',
    xScale: 'log',
    points: GROWTH.map((size, i) => [size, Number(curve.perEngine[i]!.toFixed(3))]),
  });
}

/**
 * The growth curve: planTick's median and p99 at each size of {@link GROWTH} and the median's cost per
 * engine (µs); linear growth keeps the per-engine cost flat. Fewer iterations for larger worlds, so each size
 * takes about as long, but at least {@link GROWTH_MIN_ITERATIONS}.
 */
function growth(): { headers: string[]; rows: string[][]; perEngine: number[] } {
  const rows: string[][] = [];
  const perEngine: number[] = [];
  for (const size of GROWTH) {
    const data = synthetic(Math.max(1, size / 100), Math.min(100, size), size / 5);
    const spec = desired(...data.pools);
    const observed = world(data.list, {
      vpns: data.vpnDetails,
      stoppedBindings: data.stoppedBindings,
      now: NOW,
    });
    const machineView = view({ probes: data.probes, streams: data.streams, vpns: data.vpns });
    const iterations = Math.max(GROWTH_MIN_ITERATIONS, Math.round((ITERATIONS * 100) / size));
    const times = time(
      () => planTick({ spec, world: observed, view: machineView, now: NOW }).actions.length,
      iterations,
      Math.ceil(iterations / 5),
    );
    const median = percentile(times, 50);
    const p99 = percentile(times, 99);
    perEngine.push((median * 1000) / size);
    rows.push([String(size), String(iterations), ms(median), ms(p99), `${perEngine.at(-1)!.toFixed(2)} µs`]);
  }
  const headers = ['engines', 'iterations', 'planTick median', 'p99', 'per engine (median)'];
  console.log(table(headers, rows));
  return { headers, rows, perEngine };
}

await main();
