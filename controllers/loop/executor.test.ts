import { describe, expect, it } from 'vitest';
import type { CreateAction } from '../../reconcilers/actions.js';
import type { Clock } from '../../state/clock.js';
import { poolSpec } from '../../test/support/fixtures.js';
import { silentLogger } from '../observability/logger.js';
import { type Runtime, RuntimeError } from '../runtime/runtime.js';
import { Executor, type Outcome } from './executor.js';

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

const serverError = (name: string) => new RuntimeError('server', 'create', `cannot create ${name}`, 500);

/** A Docker whose creates wait until the test lets them finish, one at a time, in order. */
function gatedDocker(fail: (name: string) => RuntimeError | undefined = () => undefined) {
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
      const error = fail(body.name);
      if (error) throw error;
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
    const fake = gatedDocker(serverError);
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
    const fake = gatedDocker((name) => (name === 'ace-3' ? serverError(name) : undefined));
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

  it('starts at the cap for a template whose last creates worked, and slow starts again after a failure or for a new template', async () => {
    let failing = false;
    const fake = gatedDocker((name) => (failing ? serverError(name) : undefined));
    const run = executor(fake.docker);
    /** Lets every create finish, one at a time, until the plan is applied. */
    const drain = async (done: Promise<unknown>) => {
      let finished = false;
      void done.then(() => {
        finished = true;
      });
      while (!finished) await fake.finishOne();
      return done;
    };
    await drain(
      run.execute(
        creates(1),
        () => pool,
        () => {},
      ),
    );

    // Proven: eight creates at once (the cap), not one then two more per success.
    fake.started.length = 0;
    const wide = run.execute(
      creates(10),
      () => pool,
      () => {},
    );
    await fake.settle();
    expect(fake.started).toHaveLength(8);
    await drain(wide);

    // A new template (another hash) starts with one create alone.
    const retemplated = poolSpec({
      range: '19000-19049',
      replicas: '{ minFree: 1, min: 20, max: 20 }',
      image: 'engine:2',
    });
    fake.started.length = 0;
    const fresh = run.execute(
      creates(10),
      () => retemplated,
      () => {},
    );
    await fake.settle();
    expect(fake.started).toHaveLength(1);
    await drain(fresh);

    // The proven template fails once: its next creates go back to slow start.
    failing = true;
    fake.started.length = 0;
    await drain(
      run.execute(
        creates(10),
        () => pool,
        () => {},
      ),
    );
    expect(fake.started).toHaveLength(8);
    failing = false;
    fake.started.length = 0;
    const again = run.execute(
      creates(10),
      () => pool,
      () => {},
    );
    await fake.settle();
    expect(fake.started).toHaveLength(1);
    await drain(again);
  });
});

describe('Executor: local failures', () => {
  it('goes on with the other creates when one name is taken, and counts nothing for the breaker', async () => {
    const conflict = (name: string) =>
      name === 'ace-1'
        ? new RuntimeError('nameConflict', 'create', `the name "/${name}" is already in use`, 409)
        : undefined;
    const fake = gatedDocker(conflict);
    const done = executor(fake.docker).execute(
      creates(3),
      () => pool,
      () => {},
    );
    await fake.settle();
    await fake.finishOne(); // ace-1 conflicts: its slot goes to ace-2
    expect(fake.started).toEqual(['ace-1', 'ace-2']);
    await fake.finishOne();
    await fake.finishOne();
    const outcomes = await done;
    expect(outcomes[0]).toMatchObject({ ok: false, scope: 'local' });
    expect(outcomes[0]).not.toHaveProperty('failure');
    expect(outcomes.slice(1).every((o) => o.ok)).toBe(true);
  });

  it('does not try a create whose name a refused removal of the same plan was to free', async () => {
    const fake = gatedDocker();
    fake.docker.removeContainer = async () => {
      throw new RuntimeError(
        'server',
        'remove',
        'driver overlay2 failed to remove root filesystem: device or resource busy',
        500,
      );
    };
    const remove = {
      kind: 'remove',
      pool: pool.name,
      containerId: 'id-ace-1',
      name: 'ace-1',
      reason: 'exited',
    } as const;
    const done = executor(fake.docker).execute(
      [remove, ...creates(2)],
      () => pool,
      () => {},
    );
    await fake.settle();
    expect(fake.started).toEqual(['ace-2']);
    await fake.finishOne();
    const outcomes = await done;
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.skipped ? 'skipped' : 'failed'))).toEqual([
      'failed',
      'skipped',
      'ok',
    ]);
  });

  it('makes neither the creates nor the pass wait for a retried removal of a stuck engine', async () => {
    const fake = gatedDocker();
    let refuse = () => {};
    fake.docker.removeContainer = () =>
      new Promise((_, reject) => {
        refuse = () => reject(new RuntimeError('server', 'remove', 'device or resource busy', 500));
      });
    const retry = {
      kind: 'remove',
      pool: pool.name,
      containerId: 'id-ace-9',
      name: 'ace-9',
      reason: 'dead in Docker',
      retry: true,
    } as const;
    let retried: readonly Outcome[] = [];
    const done = executor(fake.docker).execute(
      [retry, ...creates(1)],
      () => pool,
      () => {},
      (outcomes) => {
        retried = outcomes;
      },
    );
    await fake.settle();
    expect(fake.started).toEqual(['ace-1']);
    await fake.finishOne();
    // The pass is done while Docker still works on the removal.
    expect((await done).map((o) => `${o.action.name} ${o.ok}`)).toEqual(['ace-1 true']);
    refuse();
    await fake.settle();
    expect(retried.map((o) => `${o.action.name} ${o.ok}`)).toEqual(['ace-9 false']);
  });
});
