import { describe, expect, it } from 'vitest';
import { judgeStat, statUrlFor } from './streamStat.js';

describe('judgeStat', () => {
  it.each([
    [
      'a live session',
      200,
      '{"response":{"status":"dl","peers":3,"speed_down":512},"error":null}',
      { kind: 'alive' },
    ],
    [
      'a session the engine no longer knows',
      200,
      '{"response": null, "error": "unknown playback session id"}',
      { kind: 'ended', reason: 'the engine answered "unknown playback session id"' },
    ],
    [
      'another engine error',
      200,
      '{"response":null,"error":"engine is busy"}',
      { kind: 'inconclusive', reason: 'the engine answered error "engine is busy"' },
    ],
    ['an HTTP error', 502, 'Bad Gateway', { kind: 'inconclusive', reason: 'HTTP 502' }],
    ['a body that is not JSON', 200, '<html>', { kind: 'inconclusive', reason: 'the answer is not JSON' }],
    [
      'JSON without an envelope',
      200,
      '[1,2]',
      { kind: 'inconclusive', reason: 'the answer has no "error" field' },
    ],
  ])('%s', (_title, status, body, expected) => {
    expect(judgeStat(status, body)).toEqual(expected);
  });
});

describe('statUrlFor', () => {
  it('aims the URL at the address the controller uses, keeping path and query', () => {
    expect(
      statUrlFor('http://127.0.0.1:6878/ace/stat/abc/def?x=1', { host: '172.18.0.5', port: 19001 }),
    ).toBe('http://172.18.0.5:19001/ace/stat/abc/def?x=1');
  });

  it('brackets an IPv6 host', () => {
    expect(statUrlFor('http://127.0.0.1:6878/ace/stat/a/b', { host: '::1', port: 19001 })).toBe(
      'http://[::1]:19001/ace/stat/a/b',
    );
  });

  it('refuses what is not an http(s) URL', () => {
    expect(statUrlFor('not a url', { host: 'h', port: 1 })).toBeUndefined();
    expect(statUrlFor('file:///etc/passwd', { host: 'h', port: 1 })).toBeUndefined();
  });
});
