import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { DueJobs } from './dueTimer.js';

describe('DueJobs', () => {
  it('runs jobs when due, a bounded number at a time, never one key twice, on a stepped clock', async () => {
    const clock = new SimulatedClock();
    const due = new Map([
      ['a', 100],
      ['b', 100],
      ['c', 100],
      ['d', 500],
    ]);
    const started: string[] = [];
    const release = new Map<string, () => void>();
    const jobs = new DueJobs<string>(clock, {
      limit: 2,
      due: () => due,
      run: (key) =>
        new Promise<void>((resolve) => {
          started.push(key);
          release.set(key, () => {
            due.set(key, clock.now() + 1_000);
            resolve();
          });
        }),
    });
    // A settled job re-arms the timer (for jobs already due, at the current time): let it fire.
    const settled = async () => {
      for (let i = 0; i < 5; i++) await Promise.resolve();
      clock.increment(0);
    };
    jobs.arm();
    clock.increment(99);
    expect(started).toEqual([]);
    clock.increment(1);
    expect(started).toEqual(['a', 'b']);
    release.get('a')!();
    await settled();
    expect(started).toEqual(['a', 'b', 'c']);
    clock.increment(400);
    expect(started).toEqual(['a', 'b', 'c']);
    release.get('b')!();
    await settled();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    jobs.close();
  });
});
