import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { HttpGetResult } from '../http/client.js';
import { silentLogger } from '../observability/logger.js';
import { StreamRegistry } from './registry.js';
import { StreamWatcher } from './watcher.js';

// The stale-stream watcher on a simulated clock: time is stepped, the engine is a function.

const ALIVE = '{"response":{"status":"dl"},"error":null}';
const DEAD = '{"response":null,"error":"unknown playback session id"}';
const target = { pool: 'ace', containerId: 'c1', engine: 'ace-1' };

/** Lets the checks started by a timer finish (their fake GETs resolve at once). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(answer: (url: string) => HttpGetResult | Promise<HttpGetResult>, concurrency = 8) {
  const clock = new SimulatedClock();
  const registry = new StreamRegistry({ clock, logger: silentLogger() });
  const asked: string[] = [];
  const woken: string[] = [];
  const watcher = new StreamWatcher({
    registry,
    clock,
    logger: silentLogger(),
    endpoint: (containerId) => (containerId === 'c1' ? { host: '10.0.0.7', port: 19001 } : undefined),
    wake: (reason) => woken.push(reason),
    periodMs: 10_000,
    maxBackoffMs: 60_000,
    concurrency,
    get: async (url) => {
      asked.push(url);
      return answer(url);
    },
  });
  const step = async (ms: number) => {
    clock.increment(ms);
    await flush();
  };
  return { clock, registry, watcher, asked, woken, step };
}

describe('StreamWatcher', () => {
  it('checks each stream every period at the engine address and ends it when the session is gone', async () => {
    let body = ALIVE;
    const { registry, watcher, asked, woken, step } = setup(() => ({ ok: true, status: 200, body }));
    registry.start(target, 's1', { statUrl: 'http://127.0.0.1:6878/ace/stat/x/y' });
    watcher.sync();
    await step(9_999);
    expect(asked).toEqual([]);
    await step(1);
    expect(asked).toEqual(['http://10.0.0.7:19001/ace/stat/x/y']);
    await step(10_000);
    expect(asked).toHaveLength(2);
    expect(registry.get('s1')).toBeDefined();
    body = DEAD;
    await step(10_000);
    expect(registry.get('s1')).toBeUndefined();
    expect(woken).toEqual(['stream s1 on ace-1 went stale']);
    await step(60_000);
    expect(asked).toHaveLength(3);
  });

  it('backs off on errors, doubling up to the maximum, and returns to the period after an answer', async () => {
    let result: HttpGetResult = { ok: false, error: 'ECONNREFUSED' };
    const { registry, watcher, asked, clock, step } = setup(() => result);
    registry.start(target, 's1', { statUrl: 'http://127.0.0.1:6878/ace/stat/x/y' });
    watcher.sync();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = asked.length;
      while (asked.length === before) await step(1_000);
      times.push(clock.now());
    }
    expect(times).toEqual([10_000, 30_000, 70_000, 130_000, 190_000]);
    result = { ok: true, status: 200, body: ALIVE };
    while (asked.length === 5) await step(1_000);
    while (asked.length === 6) await step(1_000);
    expect(clock.now()).toBe(250_000 + 10_000);
    expect(registry.get('s1')).toBeDefined();
  });

  it('never judges a restarted stream on an answer about its old session', async () => {
    let release!: (result: HttpGetResult) => void;
    const { registry, watcher, step } = setup(
      () =>
        new Promise<HttpGetResult>((resolve) => {
          release = resolve;
        }),
    );
    registry.start(target, 's1', { statUrl: 'http://127.0.0.1:6878/ace/stat/x/old' });
    watcher.sync();
    await step(10_000);
    registry.start(target, 's1', { statUrl: 'http://127.0.0.1:6878/ace/stat/x/new' });
    release({ ok: true, status: 200, body: DEAD });
    await step(0);
    expect(registry.get('s1')?.statUrl).toBe('http://127.0.0.1:6878/ace/stat/x/new');
  });

  it('keeps no more checks in flight than its concurrency', async () => {
    const pending: ((result: HttpGetResult) => void)[] = [];
    const { registry, watcher, asked, step } = setup(
      () => new Promise<HttpGetResult>((resolve) => pending.push(resolve)),
      2,
    );
    for (const id of ['a', 'b', 'c', 'd'])
      registry.start(target, id, { statUrl: `http://e/ace/stat/${id}/1` });
    watcher.sync();
    await step(10_000);
    expect(asked).toHaveLength(2);
    for (const resolve of pending.splice(0)) resolve({ ok: true, status: 200, body: ALIVE });
    await flush();
    await step(0);
    expect(asked).toHaveLength(4);
  });

  it('leaves streams of engines it cannot reach, and streams without a stat URL, alone', async () => {
    const { registry, watcher, asked, step } = setup(() => ({ ok: true, status: 200, body: DEAD }));
    registry.start({ ...target, containerId: 'gone' }, 's1', { statUrl: 'http://e/ace/stat/a/1' });
    registry.start(target, 's2');
    watcher.sync();
    await step(60_000);
    expect(asked).toEqual([]);
    expect(registry.list().map((s) => s.id)).toEqual(['s1', 's2']);
  });
});
