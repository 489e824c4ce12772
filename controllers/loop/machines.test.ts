import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { desired, poolSpec } from '../../test/support/fixtures.js';
import { silentLogger } from '../observability/logger.js';
import { ActionLog } from './actionLog.js';
import type { Outcome } from './executor.js';
import { Machines } from './machines.js';

describe('the last transitions the status page shows', () => {
  it('keeps when and why the breaker last changed state', () => {
    const clock = new SimulatedClock();
    const machines = new Machines(clock, silentLogger(), () => {});
    const pool = poolSpec({ name: 'tv' });
    machines.sync(desired(pool));
    expect(machines.transitions('tv')).toEqual({});
    clock.increment(1_000);
    for (let i = 0; i < pool.circuitBreaker.failureThreshold; i++)
      machines.provisioningFailed('tv', 'ImageNotFound: no such image');
    expect(machines.transitions('tv').breaker).toEqual({
      at: 1_000,
      from: 'closed',
      to: 'open',
      reason: `${pool.circuitBreaker.failureThreshold} provisioning failures; last: ImageNotFound: no such image`,
    });
    clock.increment(pool.circuitBreaker.openSeconds * 1000);
    expect(machines.transitions('tv').breaker).toMatchObject({
      from: 'open',
      to: 'halfOpen',
      reason: 'cool-down over: one trial create',
    });
    machines.resetBreaker('tv');
    expect(machines.transitions('tv').breaker).toEqual({
      at: 1_000 + pool.circuitBreaker.openSeconds * 1000,
      from: 'halfOpen',
      to: 'closed',
      reason: 'reset (by the API, or Docker answered again)',
    });
    machines.stop();
  });
});

describe('ActionLog', () => {
  it('keeps the last actions per pool, newest first, without the skipped ones', () => {
    const log = new ActionLog(2);
    const action = (name: string) =>
      ({ kind: 'remove', pool: 'tv', containerId: name, name, reason: 'scale down' }) as const;
    const outcomes: Outcome[] = [
      { action: action('tv-1'), ok: true },
      { action: action('tv-2'), ok: false, error: 'busy' },
      { action: action('tv-3'), ok: false, error: 'pulling', skipped: 'imagePulling' },
      { action: action('tv-4'), ok: true },
    ];
    log.record(outcomes, 7);
    expect(log.of('tv').map((a) => [a.engine, a.ok, a.error])).toEqual([
      ['tv-4', true, undefined],
      ['tv-2', false, 'busy'],
    ]);
    expect(log.of('other')).toEqual([]);
  });
});
