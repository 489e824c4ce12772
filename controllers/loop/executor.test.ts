import { describe, expect, it } from 'vitest';
import type { CreateAction } from '../../reconcilers/actions.js';
import type { Clock } from '../../state/clock.js';
import { poolSpec } from '../../test/support/fixtures.js';
import { silentLogger } from '../observability/logger.js';
import { type Runtime, RuntimeError } from '../runtime/runtime.js';
import { Executor } from './executor.js';

const pool = poolSpec({ range: '19000-19049', replicas: '{ minFree: 1, min: 20, max: 20 }' });
const clock: Clock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} };

function creates(count: number): CreateAction[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: 'create',
    pool: pool.name,
    name: `ace-${i + 1}`,
    index: i + 1,
    hostPort: 19000 + i,
    p2pPort: 19050 + i,
    apiPort: 19100 + i,
    forwarded: false,
    reason: 'scale up',
  }));
}

/** A Docker whose creates wait until the test lets them finish, one at a time, in order. */
function gatedDocker(fail: (name: string) => boolean = () => false) {
  const started: string[] = [];
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const docker = {
    createContainer: async (body: { name: string }) => {
      started.push(body.name);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      if (fail(body.name)) throw new RuntimeError('server', 'create', `cannot create ${body.name}`, 500);
      return `id-${body.name}`;
    },
    startContainer: async () => {},
    removeContainer: async () => {},
  } as unknown as Runtime;
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    docker,
    started,
    maxInFlight: () => maxInFlight,
    /** Lets the oldest waiting create finish, then lets the executor react. */
    finishOne: async () => {
      waiting.shift()?.();
      await settle();
    },
    settle,
  };
}

function executor(docker: Runtime, concurrency = 8) {
  return new Executor({ docker, clock, logger: silentLogger(), concurrency });
}

describe('Executor: slow start', () => {
  it('tries one create alone, so a systematic failure costs one call', async () => {
    const fake = gatedDocker(() => true);
    const done = executor(fake.docker).execute(
      creates(20),
      () => pool,
      () => {},
    );
    await fake.settle();
    expect(fake.started).toEqual(['ace-1']);
    await fake.finishOne();
    const outcomes = await done;
    expect(fake.started).toEqual(['ace-1']);
    expect(outcomes.filter((o) => !o.ok && o.skipped)).toHaveLength(19);
    expect(outcomes[0]).toMatchObject({ ok: false, failure: 'CreateFailed' });
  });

  it('lets two more start per success (1, 2, 4, ...) without waiting for the slowest', async () => {
    const fake = gatedDocker();
    const done = executor(fake.docker).execute(
      creates(20),
      () => pool,
      () => {},
    );
    await fake.settle();
    expect(fake.started).toHaveLength(1);
    await fake.finishOne();
    expect(fake.started).toHaveLength(3);
    await fake.finishOne();
    // ace-3 is still running; ace-2's success already started two more.
    expect(fake.started).toHaveLength(5);
    for (let i = 2; i < 20; i++) await fake.finishOne();
    expect((await done).every((o) => o.ok)).toBe(true);
    expect(fake.maxInFlight()).toBe(8);
  });

  it('stops starting creates at the first failure and lets those in flight finish', async () => {
    const fake = gatedDocker((name) => name === 'ace-3');
    const done = executor(fake.docker).execute(
      creates(20),
      () => pool,
      () => {},
    );
    await fake.settle();
    await fake.finishOne(); // ace-1 succeeds: ace-2 and ace-3 start
    await fake.finishOne(); // ace-2 succeeds: ace-4 and ace-5 start
    await fake.finishOne(); // ace-3 fails: nothing new starts
    expect(fake.started).toEqual(['ace-1', 'ace-2', 'ace-3', 'ace-4', 'ace-5']);
    await fake.finishOne();
    await fake.finishOne();
    const outcomes = await done;
    expect(fake.started).toHaveLength(5);
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.skipped ? 'skipped' : 'failed')).slice(0, 6)).toEqual([
      'ok',
      'ok',
      'failed',
      'ok',
      'ok',
      'skipped',
    ]);
  });
});
