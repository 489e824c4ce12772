import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { breakerView, circuitBreakerMachine } from './circuitBreaker.js';

const input = { threshold: 3, openMs: 30_000, trialMs: 70_000 };

function breaker() {
  const clock = new SimulatedClock();
  const actor = createActor(circuitBreakerMachine, { clock, input }).start();
  const fail = (reason = 'StartFailed') => actor.send({ type: 'PROVISION_FAILED', reason, at: clock.now() });
  const view = () => breakerView(actor.getSnapshot());
  return { clock, actor, fail, view };
}

describe('circuit breaker', () => {
  it('opens after the threshold of consecutive failures, a success resetting the count', () => {
    const { actor, fail, view, clock } = breaker();
    fail();
    fail();
    actor.send({ type: 'PROVISION_SUCCEEDED', at: clock.now() });
    fail();
    fail();
    expect(view()).toMatchObject({ state: 'closed', failures: 2, createsAllowed: Number.POSITIVE_INFINITY });
    fail('ExitedBeforeReady: exited with code 1');
    expect(view()).toMatchObject({
      state: 'open',
      failures: 3,
      createsAllowed: 0,
      retryAt: 30_000,
      lastFailure: 'ExitedBeforeReady: exited with code 1',
    });
  });

  it('half-opens after openMs without sleeping, allows exactly one trial, and closes when it succeeds', () => {
    const { actor, fail, view, clock } = breaker();
    for (let i = 0; i < 3; i++) fail();
    clock.increment(29_999);
    expect(view().state).toBe('open');
    clock.increment(1);
    expect(view()).toMatchObject({ state: 'halfOpen', createsAllowed: 1 });
    actor.send({ type: 'TRIAL_STARTED', at: clock.now() });
    expect(view()).toMatchObject({ state: 'halfOpen', createsAllowed: 0 });
    actor.send({ type: 'PROVISION_SUCCEEDED', at: clock.now() });
    expect(view()).toMatchObject({ state: 'closed', failures: 0, createsAllowed: Number.POSITIVE_INFINITY });
    // A closed breaker has no failure to report: the last one belonged to the episode that ended.
    expect(view().lastFailure).toBeUndefined();
  });

  it('opens again when the trial fails, for another openMs', () => {
    const { actor, fail, view, clock } = breaker();
    for (let i = 0; i < 3; i++) fail();
    clock.increment(30_000);
    actor.send({ type: 'TRIAL_STARTED', at: clock.now() });
    fail('StartupTimeout');
    expect(view()).toMatchObject({ state: 'open', retryAt: 60_000, lastFailure: 'StartupTimeout' });
  });

  it('gives a lost trial up after trialMs and allows another one', () => {
    const { actor, fail, view, clock } = breaker();
    for (let i = 0; i < 3; i++) fail();
    clock.increment(30_000);
    actor.send({ type: 'TRIAL_STARTED', at: clock.now() });
    clock.increment(70_000);
    expect(view()).toMatchObject({ state: 'halfOpen', createsAllowed: 1 });
  });

  it('tries at once after the template changed, and closes on an operator reset', () => {
    const { actor, fail, view, clock } = breaker();
    for (let i = 0; i < 3; i++) fail();
    actor.send({ type: 'TEMPLATE_CHANGED', at: clock.now() });
    expect(view()).toMatchObject({ state: 'halfOpen', createsAllowed: 1 });
    fail();
    expect(view().state).toBe('open');
    actor.send({ type: 'RESET_REQUESTED', at: clock.now() });
    expect(view()).toMatchObject({ state: 'closed', failures: 0 });
  });
});
