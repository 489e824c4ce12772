import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.js';

describe('backoffMs', () => {
  it.each([
    [1, 500],
    [2, 1_000],
    [3, 2_000],
    [6, 16_000],
    [7, 30_000],
    [60, 30_000],
    [0, 500],
  ])('after %i failures waits %i ms (500 ms doubling, 30 s cap)', (failures, wait) => {
    expect(backoffMs(failures, 500, 30_000)).toBe(wait);
  });
});
