import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { CreateAction } from '../../reconcilers/actions.js';
import { planTick } from '../../reconcilers/plan.js';
import { allReady, desired, engine, poolSpec, view, world } from '../../test/support/fixtures.js';
import type { Outcome } from './executor.js';
import { type ProvisionedEngine, type ProvisionRefused, ProvisionRequests } from './provisions.js';

// How waiting provision requests are answered from the pass that planned for them.

const pool = poolSpec({ replicas: '{ minFree: 1, max: 3 }' });

function passWith(requests: number, running = 1) {
  const list = Array.from({ length: running }, (_, i) => engine(pool, i + 1));
  return planTick({
    spec: desired(pool),
    world: world(list),
    view: view({
      probes: allReady(
        pool,
        list.map((_, i) => i + 1),
      ),
      provisionRequests: { ace: requests },
    }),
    now: 0,
  });
}

function settled<T>(promise: Promise<T>) {
  const state: { value?: T; error?: ProvisionRefused } = {};
  promise.then(
    (value) => {
      state.value = value;
    },
    (error: ProvisionRefused) => {
      state.error = error;
    },
  );
  return state;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const creates = (plan: ReturnType<typeof passWith>) =>
  plan.actions.filter((a): a is CreateAction => a.kind === 'create');

describe('ProvisionRequests', () => {
  it('answers each request with the engine its create started, in arrival order', async () => {
    const requests = new ProvisionRequests({ clock: new SimulatedClock() });
    const first = settled(requests.add('ace'));
    const second = settled(requests.add('ace'));
    const asked = requests.snapshot();
    const plan = passWith(2);
    const outcomes: Outcome[] = creates(plan).map((action, i) => ({
      action,
      ok: true,
      containerId: `new-${i}`,
    }));
    expect(requests.settle(asked, plan, outcomes, (_pool, port) => port, 0)).toBe(0);
    await flush();
    expect(first.value).toEqual<ProvisionedEngine>({
      pool: 'ace',
      containerId: 'new-0',
      name: 'ace-2',
      hostPort: 19001,
      httpPort: 19001,
    });
    expect(second.value?.name).toBe('ace-3');
  });

  it('refuses a request whose create failed with general_error; the next waits for another pass', async () => {
    const requests = new ProvisionRequests({ clock: new SimulatedClock() });
    const first = settled(requests.add('ace'));
    const second = settled(requests.add('ace'));
    const asked = requests.snapshot();
    const plan = passWith(2);
    const [failed] = creates(plan);
    const outcomes: Outcome[] = [
      { action: failed!, ok: false, error: 'port is already allocated' },
      ...creates(plan)
        .slice(1)
        .map((action) => ({
          action,
          ok: false as const,
          error: 'skipped',
          skipped: 'earlierCreateFailed' as const,
        })),
    ];
    expect(requests.settle(asked, plan, outcomes, (_pool, port) => port, 0)).toBe(1);
    await flush();
    expect(first.error?.refusal).toMatchObject({ code: 'general_error', canRetry: true, shouldWait: true });
    expect(first.error?.message).toContain('port is already allocated');
    expect(second.error).toBeUndefined();
  });

  it('refuses requests beyond max with max_capacity once the room is taken', async () => {
    const requests = new ProvisionRequests({ clock: new SimulatedClock() });
    const waiting = [
      settled(requests.add('ace')),
      settled(requests.add('ace')),
      settled(requests.add('ace')),
    ];
    const asked = requests.snapshot();
    const plan = passWith(3, 2);
    const outcomes: Outcome[] = creates(plan).map((action) => ({ action, ok: true, containerId: 'new-0' }));
    expect(outcomes).toHaveLength(1);
    expect(requests.settle(asked, plan, outcomes, (_pool, port) => port, 0)).toBe(0);
    await flush();
    expect(waiting.map((w) => w.value?.containerId ?? w.error?.refusal.code)).toEqual([
      'new-0',
      'max_capacity',
      'max_capacity',
    ]);
  });

  it('keeps a request whose create was skipped waiting, and refuses it when nothing answers in time', async () => {
    const clock = new SimulatedClock();
    const requests = new ProvisionRequests({ clock, timeoutMs: 30_000 });
    const request = settled(requests.add('ace'));
    const asked = requests.snapshot();
    const plan = passWith(1);
    const outcomes: Outcome[] = creates(plan).map((action) => ({
      action,
      ok: false,
      error: 'image is being pulled',
      skipped: 'imagePulling',
    }));
    expect(requests.settle(asked, plan, outcomes, (_pool, port) => port, 0)).toBe(1);
    clock.increment(29_999);
    await flush();
    expect(request.error).toBeUndefined();
    clock.increment(1);
    await flush();
    expect(request.error?.refusal.code).toBe('general_error');
    expect(requests.count('ace')).toBe(0);
  });
});
