import { describe, expect, it } from 'vitest';
import { engine, poolSpec, view, world } from '../test/support/fixtures.js';
import type { Intent } from './actions.js';
import { snapshotPool } from './engines.js';
import { dueRemovals, type RemovalFailure, removalRetryAt, stuckEngines, stuckMessage } from './stuck.js';

const pool = poolSpec();
const failed = (attempts: number, at = 10_000): RemovalFailure => ({
  error: 'driver "overlay2" failed to remove root filesystem: device or resource busy',
  attempts,
  firstFailedAt: 0,
  lastFailedAt: at,
});

describe('removalRetryAt', () => {
  it.each([
    [1, 11_000],
    [2, 12_000],
    [3, 14_000],
    [6, 42_000],
    [7, 70_000],
    [30, 70_000],
  ])('after %i failed tries: %i', (attempts, expected) => {
    expect(removalRetryAt(failed(attempts))).toBe(expected);
  });
});

describe('stuckEngines', () => {
  const observed = world([
    engine(pool, 1, { state: 'dead', status: 'Dead' }),
    engine(pool, 2, { state: 'removing', status: 'Removal In Progress' }),
    engine(pool, 3),
    engine(pool, 4, { state: 'exited' }),
    engine(pool, 5, { state: 'created' }),
  ]).engines;

  it.each<[string, Record<string, RemovalFailure>, string[]]>([
    ['Docker shows dead: held from the first sight', {}, ['ace-1']],
    ['a removal failed: held whatever its state', { 'id-ace-3': failed(1) }, ['ace-1', 'ace-3']],
    [
      'a removing one (every removal passes through it) is stuck once our removal fails',
      { 'id-ace-2': failed(1) },
      ['ace-1', 'ace-2'],
    ],
  ])('%s', (_title, failures, expected) => {
    expect(stuckEngines(observed, new Map(Object.entries(failures)), 0).map((s) => s.engine.name)).toEqual(
      expected,
    );
  });

  it('is due at once when untried, after the backoff when tried', () => {
    const stuck = stuckEngines(observed, new Map([['id-ace-2', failed(2)]]), 5_000);
    expect(stuck.map((s) => s.retryAt)).toEqual([5_000, 12_000]);
  });
});

describe('dueRemovals', () => {
  const observed = world([engine(pool, 1, { state: 'dead' }), engine(pool, 2, { state: 'exited' })]);
  const remove = (n: number): Intent => ({
    kind: 'remove',
    pool: 'ace',
    containerId: `id-ace-${n}`,
    name: `ace-${n}`,
    reason: 'exited',
  });

  it.each<[string, number, string[], number | undefined]>([
    ['holds a stuck removal until its retry is due', 11_999, ['ace-2'], 12_000],
    ['lets it through once due', 12_000, ['ace-1', 'ace-2'], undefined],
  ])('%s', (_title, now, names, retryAt) => {
    const snapshot = snapshotPool(pool, observed, view({ removalFailures: { 'id-ace-1': failed(2) } }), now);
    const due = dueRemovals([remove(1), remove(2)], snapshot, now);
    expect(due.intents.map((i) => (i.kind === 'remove' ? i.name : i.kind))).toEqual(names);
    expect(due.retryAt).toBe(retryAt);
  });

  it('holds the replacement of a live engine whose removal waits when it would pass max', () => {
    const one = poolSpec({ replicas: '{ minFree: 1, max: 1 }' });
    const live = world([engine(one, 1)]);
    const snapshot = snapshotPool(one, live, view({ removalFailures: { 'id-ace-1': failed(2) } }), 11_000);
    const create: Intent = { kind: 'create', pool: 'ace', forwarded: false, reason: 'scale up' };
    expect(dueRemovals([remove(1), create], snapshot, 11_000)).toEqual({ intents: [], retryAt: 12_000 });
    expect(dueRemovals([remove(1), create], snapshot, 12_000).intents).toEqual([
      { ...remove(1), retry: true },
      create,
    ]);
  });
});

describe('stuckMessage', () => {
  it("names each engine with Docker's error and says what to do", () => {
    const observed = world([engine(pool, 1, { state: 'removing' }), engine(pool, 2, { state: 'dead' })]);
    const stuck = stuckEngines(observed.engines, new Map([['id-ace-1', failed(3)]]), 11_000);
    expect(stuckMessage(stuck, 11_000)).toBe(
      'ace-1 (id-ace-1) cannot be removed after 3 tries, next try in 3s: driver "overlay2" failed to remove root filesystem: device or resource busy; ace-2 (id-ace-2) is dead in Docker. The pool runs around them under other names and ports and keeps retrying. To clear it: `docker rm -f ace-1 ace-2`; if Docker says "device or resource busy", find the process holding its mount (`grep <container id> /proc/*/mountinfo`) or restart dockerd.',
    );
  });
});
