import { describe, expect, it } from 'vitest';
import { parseListen, parseResyncSeconds } from './environment.js';

describe('run settings', () => {
  it('listens on the loopback unless told otherwise', () => {
    expect(parseListen('8000')).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(parseListen(':8000')).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(parseListen('0.0.0.0:8000')).toEqual({ host: '0.0.0.0', port: 8000 });
  });

  it('bounds ENGINEPOOL_RESYNC_SECONDS instead of letting a huge value become a 1 ms timer', () => {
    expect(parseResyncSeconds(undefined)).toBe(10);
    expect(parseResyncSeconds('30')).toBe(30);
    for (const bad of ['1e12', '0', 'abc', '-5']) {
      expect(() => parseResyncSeconds(bad)).toThrow(
        /ENGINEPOOL_RESYNC_SECONDS expects seconds between 0.5 and 3600/,
      );
    }
  });
});
