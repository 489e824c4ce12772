import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { StatusHub, type StatusStream } from './hub.js';
import type { StatusSnapshot } from './snapshot.js';

/** A viewer's connection: what it received, and a way to hang up. */
class Viewer implements StatusStream {
  text = '';
  ended = false;
  destroyed = false;
  writableLength = 0;
  private onClose?: () => void;
  write(chunk: string) {
    this.text += chunk;
  }
  end() {
    this.ended = true;
  }
  destroy() {
    this.destroyed = true;
  }
  once(_event: 'close', listener: () => void) {
    this.onClose = listener;
  }
  hangUp() {
    this.onClose?.();
  }
  /** The events received, as `name:data`. */
  events(): string[] {
    return [...this.text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)].map((m) => `${m[1]}:${m[2]}`);
  }
}

function setup(maxStreams = 2) {
  const clock = new SimulatedClock();
  let ready = true;
  let builds = 0;
  const build = (): StatusSnapshot => {
    builds++;
    return {
      at: new Date(clock.now()).toISOString(),
      observedAt: new Date(clock.now()).toISOString(),
      ready,
      readiness: ready ? 'ok' : 'Docker is gone',
      config: { valid: true, reloadedAt: null, problems: [] },
      pools: [],
    };
  };
  const hub = new StatusHub({ clock, build, maxStreams, heartbeatMs: 5_000, coalesceMs: 50 });
  const connect = () => {
    const viewer = new Viewer();
    const start = hub.open();
    if (!start) return undefined;
    start(viewer);
    return viewer;
  };
  return {
    clock,
    hub,
    connect,
    setReady: (value: boolean) => {
      ready = value;
    },
    builds: () => builds,
  };
}

describe('StatusHub', () => {
  it('sends the snapshot on connect, then only changed content, with one rebuild per burst', () => {
    const { clock, hub, connect, setReady, builds } = setup();
    const viewer = connect()!;
    expect(viewer.text.startsWith('retry: 1000\n')).toBe(true);
    expect(viewer.events()).toHaveLength(1);

    const before = builds();
    for (let i = 0; i < 5; i++) hub.changed();
    clock.increment(50);
    expect(builds() - before).toBe(1);
    expect(viewer.events()).toHaveLength(1); // same content, new times: nothing sent

    setReady(false);
    hub.changed();
    clock.increment(49);
    expect(viewer.events()).toHaveLength(1);
    clock.increment(1);
    expect(viewer.events()).toHaveLength(2);
    expect(viewer.events()[1]).toContain('"readiness":"Docker is gone"');
  });

  it('beats every 5 s with the time of the last observation, and sends changes no one announced', () => {
    const { clock, connect, setReady } = setup();
    const viewer = connect()!;
    clock.increment(5_000);
    expect(viewer.events().at(-1)).toMatch(/^heartbeat:\{"at":"[^"]+","observedAt":"[^"]+"\}$/);
    setReady(false);
    clock.increment(5_000);
    expect(
      viewer
        .events()
        .slice(-2)
        .map((e) => e.split(':')[0]),
    ).toEqual(['status', 'heartbeat']);
  });

  it('refuses streams beyond its cap, takes one again after a viewer leaves, and ends all on close', () => {
    const { hub, connect } = setup(2);
    const first = connect()!;
    const second = connect()!;
    expect(connect()).toBeUndefined();
    first.hangUp();
    expect(hub.size).toBe(1);
    const third = connect()!;
    expect(third).toBeDefined();
    hub.close();
    expect([second.ended, third.ended]).toEqual([true, true]);
    expect(connect()).toBeUndefined();
  });

  it('drops a viewer that stopped reading, and keeps the others', () => {
    const { clock, hub, connect } = setup();
    const asleep = connect()!;
    const awake = connect()!;
    asleep.writableLength = 2 * 1024 * 1024;
    clock.increment(5_000);
    expect(asleep.destroyed).toBe(true);
    expect(hub.size).toBe(1);
    expect(awake.events().at(-1)).toMatch(/^heartbeat:/);
  });
});
