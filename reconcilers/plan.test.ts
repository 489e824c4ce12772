import { describe, expect, it } from 'vitest';
import {
  allReady,
  desired,
  engine,
  foreign,
  poolSpec,
  ready,
  view,
  world,
} from '../test/support/fixtures.js';
import { formatPlan } from './actions.js';
import { planTick } from './plan.js';

const ace = poolSpec();
const MIN = 60_000;

describe('planTick: replicas, names and ports', () => {
  it.each([
    [
      'creates minFree engines from an empty Docker, on the lowest names and ports',
      poolSpec({ replicas: '{ minFree: 2, max: 5 }' }),
      [],
      {},
      [
        'create ace-1 on port 19000 (scale up: 0 used + minFree 2 = 2 wanted, 0 running or starting)',
        'create ace-2 on port 19001 (scale up: 0 used + minFree 2 = 2 wanted, 0 running or starting)',
      ],
    ],
    ['does nothing when converged', ace, [engine(ace, 1)], { probes: allReady(ace, [1]) }, []],
    ['counts starting engines as free, so nothing overshoots', ace, [engine(ace, 1)], {}, []],
    [
      'grows to keep minFree free when an engine is used',
      ace,
      [engine(ace, 1)],
      { probes: allReady(ace, [1]), streams: { 'id-ace-1': { open: 1 } } },
      ['create ace-2 on port 19001 (scale up: 1 used + minFree 1 = 2 wanted, 1 running or starting)'],
    ],
    [
      'skips names held by any container, stopped or foreign, and ports any container publishes',
      ace,
      [foreign('ace-1', { state: 'exited' }), foreign('web', { ports: [19000, 19001] })],
      {},
      ['create ace-2 on port 19002 (scale up: 0 used + minFree 1 = 1 wanted, 0 running or starting)'],
    ],
    [
      'skips ports Docker refused recently (a host process holds them)',
      ace,
      [],
      { setAsidePorts: [19000] },
      ['create ace-1 on port 19001 (scale up: 0 used + minFree 1 = 1 wanted, 0 running or starting)'],
    ],
    [
      'fills the lowest free name after a removal',
      poolSpec({ replicas: '{ minFree: 3, max: 5 }' }),
      [engine(ace, 1), engine(ace, 3, { port: 19002 })],
      { probes: allReady(ace, [1, 3]) },
      ['create ace-2 on port 19001 (scale up: 0 used + minFree 3 = 3 wanted, 2 running or starting)'],
    ],
    [
      'replaces an exited engine under the same name and port at once',
      ace,
      [engine(ace, 1, { state: 'exited', status: 'Exited (137) 1 second ago' })],
      { probes: allReady(ace, [1]) },
      [
        'remove ace-1 (exited with code 137)',
        'create ace-1 on port 19000 (scale up: 0 used + minFree 1 = 1 wanted, 0 running or starting)',
      ],
    ],
    [
      'never reuses the port of a removed engine that a foreign container publishes (found by fast-check)',
      ace,
      [engine(ace, 1, { state: 'created', port: 19000 }), foreign('web', { ports: [19000] })],
      {},
      [
        'remove ace-1 (never started)',
        'create ace-1 on port 19001 (scale up: 0 used + minFree 1 = 1 wanted, 0 running or starting)',
      ],
    ],
    [
      'caps at max without error',
      poolSpec({ replicas: '{ minFree: 1, max: 2 }' }),
      [engine(ace, 1), engine(ace, 2)],
      { probes: allReady(ace, [1, 2]), streams: { 'id-ace-1': { open: 1 }, 'id-ace-2': { open: 1 } } },
      [],
    ],
  ])('%s', (_title, pool, list, machineView, expected) => {
    const plan = planTick({
      spec: desired(pool),
      world: world(list),
      view: view(machineView),
      now: 10 * MIN,
    });
    expect(formatPlan(plan.actions)).toEqual(expected);
  });

  it('reports MaxReached as a limit, not a failure', () => {
    const pool = poolSpec({ replicas: '{ minFree: 1, max: 2 }' });
    const plan = planTick({
      spec: desired(pool),
      world: world([engine(pool, 1), engine(pool, 2)]),
      view: view({
        probes: allReady(pool, [1, 2]),
        streams: { 'id-ace-1': { open: 1 }, 'id-ace-2': { open: 2 } },
      }),
      now: 0,
    });
    expect(plan.pools.get('ace')?.limit).toEqual({
      reason: 'MaxReached',
      message: '2 engines in use + minFree 1 = 3 wanted, capped at max 2',
    });
  });
});

describe('planTick: scale-down', () => {
  const pool = poolSpec({ replicas: '{ minFree: 1, max: 5, scaleDownDelaySeconds: 30 }' });
  const three = [engine(pool, 1), engine(pool, 2), engine(pool, 3)];

  it('waits until every surplus engine has been free for the delay, then removes the highest numbers', () => {
    const at = (now: number, lastEnded: number) =>
      formatPlan(
        planTick({
          spec: desired(pool),
          world: world(three),
          view: view({
            probes: allReady(pool, [1, 2, 3]),
            streams: { 'id-ace-2': { open: 0, lastEndedAt: lastEnded } },
            poolLastStreamEndedAt: { ace: lastEnded },
          }),
          now,
        }).actions,
      );
    expect(at(10 * MIN + 29_999, 10 * MIN)).toEqual([]);
    expect(at(10 * MIN + 30_000, 10 * MIN)).toEqual([
      'remove ace-3 (scale down: 0 used + minFree 1 = 1 wanted, 3 running; free for 630s)',
      'remove ace-2 (scale down: 0 used + minFree 1 = 1 wanted, 3 running; free for 30s)',
    ]);
  });

  it('asks to be woken when the delay ends', () => {
    const plan = planTick({
      spec: desired(pool),
      world: world(three),
      view: view({ probes: allReady(pool, [1, 2, 3]), poolLastStreamEndedAt: { ace: 100_000 } }),
      now: 110_000,
    });
    expect(plan.actions).toEqual([]);
    expect(plan.requeueAt).toBe(130_000);
  });

  it('never removes an engine with a stream', () => {
    const plan = planTick({
      spec: desired(pool),
      world: world(three),
      view: view({ probes: allReady(pool, [1, 2, 3]), streams: { 'id-ace-3': { open: 1 } } }),
      now: 10 * MIN,
    });
    expect(formatPlan(plan.actions)).toEqual([
      'remove ace-2 (scale down: 1 used + minFree 1 = 2 wanted, 3 running; free for 600s)',
    ]);
  });
});

describe('planTick: health, startup and rollout', () => {
  it('removes an engine not ready within the startup timeout, as a provisioning failure', () => {
    const plan = planTick({
      spec: desired(ace),
      world: world([engine(ace, 1)]),
      view: view({ probes: { 'id-ace-1': { firstSeenAt: 0, consecutiveFailures: 5 } } }),
      now: 61_000,
    });
    expect(plan.actions[0]).toMatchObject({ kind: 'remove', name: 'ace-1', failure: 'StartupTimeout' });
  });

  it('starts a replacement before removing an unhealthy engine', () => {
    const sick = { 'id-ace-1': { ...ready(), consecutiveFailures: 3 } };
    const first = planTick({
      spec: desired(ace),
      world: world([engine(ace, 1)]),
      view: view({ probes: sick }),
      now: 0,
    });
    expect(formatPlan(first.actions)).toEqual([
      'create ace-2 on port 19001 (scale up: 0 used + minFree 1 = 1 wanted, 0 running or starting)',
    ]);
    const second = planTick({
      spec: desired(ace),
      world: world([engine(ace, 1), engine(ace, 2)]),
      view: view({ probes: { ...sick, 'id-ace-2': ready() } }),
      now: 0,
    });
    expect(formatPlan(second.actions)).toEqual(['remove ace-1 (unhealthy; its replacement is ready)']);
  });

  it('rolls a template change through free engines one at a time and leaves used ones draining', () => {
    const pool = poolSpec({ replicas: '{ minFree: 2, max: 5 }' });
    const old = { hash: 'old' };
    const step = (list: ReturnType<typeof engine>[], probes: number[]) =>
      formatPlan(
        planTick({
          spec: desired(pool),
          world: world(list),
          view: view({ probes: allReady(pool, probes), streams: { 'id-ace-1': { open: 1 } } }),
          now: 10 * MIN,
        }).actions,
      );
    const e1 = engine(pool, 1, old);
    const e2 = engine(pool, 2, old);
    const e3 = engine(pool, 3, old);
    expect(step([e1, e2, e3], [1, 2, 3])).toEqual([
      'create ace-4 on port 19003 (rolling update: start a new engine before replacing ace-3 (template changed))',
    ]);
    expect(step([e1, e2, e3, engine(pool, 4)], [1, 2, 3])).toEqual([]);
    expect(step([e1, e2, e3, engine(pool, 4)], [1, 2, 3, 4])).toEqual([
      'remove ace-3 (template changed; replaced by a new engine)',
    ]);
    expect(step([e1, e2, engine(pool, 4)], [1, 2, 4])).toEqual([
      'create ace-3 on port 19002 (rolling update: start a new engine before replacing ace-2 (template changed))',
    ]);
  });
});

describe('planTick: pools not in the file', () => {
  it('reports them and never touches their containers', () => {
    const other = poolSpec({ name: 'other' });
    const plan = planTick({
      spec: desired(ace),
      world: world([
        engine(ace, 1),
        engine(other, 1, { port: 19005 }),
        engine(other, 2, { state: 'exited', port: 19006 }),
      ]),
      view: view({ probes: allReady(ace, [1]) }),
      now: 10 * MIN,
    });
    expect(plan.actions).toEqual([]);
    expect(plan.unknownPools).toEqual(['other']);
  });
});

describe('planTick: the breaker within one pass', () => {
  it('holds creates when the failures this pass records open the breaker', () => {
    const pool = poolSpec({ replicas: '{ minFree: 1, max: 3 }' });
    const plan = planTick({
      spec: desired(pool),
      world: world([
        engine(pool, 1, { state: 'exited', status: 'Exited (1) 1 second ago', createdAt: 5_000 }),
      ]),
      view: view({
        breakers: {
          ace: { state: 'closed', failures: 2, createsAllowed: Number.POSITIVE_INFINITY, failuresToOpen: 1 },
        },
      }),
      now: 10_000,
    });
    expect(formatPlan(plan.actions)).toEqual(['remove ace-1 (exited with code 1)']);
    expect(plan.pools.get('ace')?.blocked).toEqual({
      count: 1,
      code: 'CircuitOpen',
      reason: 'this pass records 1 provisioning failure, enough to open the circuit breaker',
    });
  });
});

describe('planTick: scale-down keeps the names compact', () => {
  it('waits for the highest-numbered engine rather than removing a lower one that is eligible sooner', () => {
    const pool = poolSpec({ replicas: '{ minFree: 1, max: 5, scaleDownDelaySeconds: 30 }' });
    const list = [engine(pool, 1), engine(pool, 2), engine(pool, 3, { createdAt: 10 * MIN - 5_000 })];
    const plan = planTick({
      spec: desired(pool),
      world: world(list),
      view: view({ probes: allReady(pool, [1, 2, 3]) }),
      now: 10 * MIN,
    });
    expect(formatPlan(plan.actions)).toEqual([
      'remove ace-2 (scale down: 0 used + minFree 1 = 1 wanted, 3 running; free for 600s)',
    ]);
    expect(plan.requeueAt).toBe(10 * MIN + 25_000);
  });
});

describe('planTick: a starting engine is a scale-down victim too', () => {
  it('waits for it to be ready instead of removing lower-numbered ready engines', () => {
    const pool = poolSpec({ replicas: '{ minFree: 1, max: 5, scaleDownDelaySeconds: 1 }' });
    const list = [engine(pool, 1), engine(pool, 2), engine(pool, 3, { createdAt: 10 * MIN - 500 })];
    const plan = planTick({
      spec: desired(pool),
      world: world(list),
      view: view({ probes: allReady(pool, [1, 2]) }),
      now: 10 * MIN,
    });
    expect(formatPlan(plan.actions)).toEqual([
      'remove ace-2 (scale down: 0 used + minFree 1 = 1 wanted, 3 running; free for 600s)',
    ]);
  });
});

describe('planTick: an engine Docker cannot remove', () => {
  const pool = poolSpec({ replicas: '{ minFree: 2, max: 5 }' });
  const busy = 'driver "overlay2" failed to remove root filesystem: device or resource busy';
  const failure = { error: busy, attempts: 1, firstFailedAt: 10 * MIN - 500, lastFailedAt: 10 * MIN - 500 };
  const stuck = [engine(pool, 1, { state: 'dead', status: 'Dead' }), engine(pool, 2, { state: 'exited' })];

  it.each([
    [
      'holds its name and port and converges under the next free ones while the retry waits',
      10 * MIN,
      [
        'remove ace-2 (exited with code 1)',
        'create ace-2 on port 19001 (scale up: 0 used + minFree 2 = 2 wanted, 0 running or starting)',
        'create ace-3 on port 19002 (scale up: 0 used + minFree 2 = 2 wanted, 0 running or starting)',
      ],
    ],
    [
      'retries its removal once due, still without reusing its name or port',
      10 * MIN + 500,
      [
        'remove ace-1 (dead in Docker)',
        'remove ace-2 (exited with code 1)',
        'create ace-2 on port 19001 (scale up: 0 used + minFree 2 = 2 wanted, 0 running or starting)',
        'create ace-3 on port 19002 (scale up: 0 used + minFree 2 = 2 wanted, 0 running or starting)',
      ],
    ],
  ])('%s', (_title, now, expected) => {
    const plan = planTick({
      spec: desired(pool),
      world: world(stuck),
      view: view({ removalFailures: { 'id-ace-1': failure } }),
      now,
    });
    expect(formatPlan(plan.actions)).toEqual(expected);
  });

  it('asks to be woken when the retry is due, and says why in the pool', () => {
    const plan = planTick({
      spec: desired(pool),
      world: world(stuck),
      view: view({ removalFailures: { 'id-ace-1': failure } }),
      now: 10 * MIN,
    });
    expect(plan.requeueAt).toBe(10 * MIN + 500);
    expect(plan.pools.get('ace')?.snapshot.stuck.map((s) => s.engine.name)).toEqual(['ace-1']);
  });

  it.each([
    [
      'holds the name of a container Docker shows dead before any removal of ours failed',
      'dead',
      'create ace-2 on port 19001',
    ],
    [
      'reuses the name of one Docker shows removing: every removal passes through it',
      'removing',
      'create ace-1 on port 19000',
    ],
  ])('%s', (_title, state, create) => {
    const plan = planTick({
      spec: desired(poolSpec()),
      world: world([engine(pool, 1, { state, status: state })]),
      view: view(),
      now: 10 * MIN,
    });
    expect(formatPlan(plan.actions)).toEqual([
      `remove ace-1 (${state} in Docker)`,
      `${create} (scale up: 0 used + minFree 1 = 1 wanted, 0 running or starting)`,
    ]);
  });
});
