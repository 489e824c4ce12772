import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { LABELS } from '../../state/labels.js';
import type { DockerContainerSummary } from '../../state/observed.js';
import { desired, poolSpec } from '../../test/support/fixtures.js';
import { MemoryRuntime } from '../../test/support/memoryRuntime.js';
import { silentLogger } from '../observability/logger.js';
import { concernsPools, DockerEvents, LIST_LAG_MS } from './events.js';
import { Observer } from './observer.js';

// The observer's reuse of its last list: an idle controller with a healthy event stream asks Docker
// nothing between safety relists; any change, a gap in the stream or a stream that is down makes the
// next pass list again.

const T0 = Date.parse('2026-12-07T12:00:00.000Z');
const RELIST_MS = 300_000;

/** A MemoryRuntime that counts the lists and inspects it answers; its list can lag as dockerd's does. */
class CountingRuntime extends MemoryRuntime {
  lists = 0;
  inspects = 0;
  /** Containers the list still shows running (dockerd lists a `die` late). */
  readonly listedRunning = new Set<string>();

  override async listContainers(): Promise<DockerContainerSummary[]> {
    this.lists++;
    return (await super.listContainers()).map((c) =>
      this.listedRunning.has(c.Names?.[0]?.slice(1) ?? '')
        ? { ...c, State: 'running', Status: 'Up 5 minutes' }
        : c,
    );
  }

  override async inspectContainer(idOrName: string) {
    this.inspects++;
    return super.inspectContainer(idOrName);
  }
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * An Observer fed by the real DockerEvents, wired as main.ts wires them: events count for the pools
 * `pools` names (the file's, at the moment of the event).
 */
async function withEvents(pools: () => ReadonlySet<string>) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const runtime = new CountingRuntime(clock);
  runtime.addImage('engine:1');
  let observer!: Observer;
  const events = new DockerEvents({
    docker: runtime,
    clock,
    logger: silentLogger(),
    wake: () => {},
    relevant: (event) => concernsPools(event, pools(), new Set()),
    onStarted: (id) => observer.invalidate(id),
    onChanged: (event) => observer.changed(event),
    onGap: () => observer.invalidateAll(),
  });
  observer = new Observer(runtime, () => clock.now(), {
    streamSince: () => events.connectedSince(),
    relistMs: RELIST_MS,
    settleMs: LIST_LAG_MS,
  });
  events.start();
  stops.push(() => events.stop());
  await settle();
  return { clock, runtime, observer, events };
}

function setup(streamSince: () => number | undefined = () => T0) {
  const clock = new SimulatedClock();
  clock.set(T0 + 1);
  const runtime = new CountingRuntime(clock);
  runtime.addImage('engine:1');
  const observer = new Observer(runtime, () => clock.now(), {
    streamSince,
    relistMs: RELIST_MS,
    settleMs: LIST_LAG_MS,
  });
  return { clock, runtime, observer, spec: desired(poolSpec()) };
}

describe('Observer: reusing the last observation', () => {
  it('lists once and then asks Docker nothing while nothing changes, until the safety relist', async () => {
    const { clock, runtime, observer, spec } = setup();
    await runtime.run({
      name: 'foreign',
      Image: 'engine:1',
      Labels: {},
      HostConfig: { RestartPolicy: { Name: 'no' } },
    });
    await observer.observe(spec);
    expect(runtime.lists).toBe(1);
    // Six resync passes a minute for four minutes: no Docker call, each world as of its own pass.
    for (let i = 0; i < 24; i++) {
      clock.increment(10_000);
      const world = await observer.observe(spec);
      expect(world.observedAt).toBe(clock.now());
    }
    expect(runtime.lists).toBe(1);
    clock.increment(RELIST_MS);
    await observer.observe(spec);
    expect(runtime.lists).toBe(2);
  });

  it('lists again after a change, and keeps listing until Docker has had time to catch up', async () => {
    const { clock, runtime, observer, spec } = setup();
    await observer.observe(spec);
    clock.increment(10_000);
    observer.changed();
    clock.increment(150);
    await observer.observe(spec);
    expect(runtime.lists).toBe(2);
    // This list was asked for 150 ms after the change: Docker may still show the old state.
    clock.increment(350);
    await observer.observe(spec);
    expect(runtime.lists).toBe(3);
    clock.increment(LIST_LAG_MS);
    await observer.observe(spec);
    expect(runtime.lists).toBe(4);
    clock.increment(10_000);
    await observer.observe(spec);
    expect(runtime.lists).toBe(4);
  });

  it('lists on every pass while the event stream is down, and never trusts a list older than the stream', async () => {
    let since: number | undefined;
    const { clock, runtime, observer, spec } = setup(() => since);
    await observer.observe(spec);
    clock.increment(10_000);
    await observer.observe(spec);
    expect(runtime.lists).toBe(2);
    // The stream connects after that list: a change in between would have raised no event.
    since = clock.now() + 1;
    clock.increment(10_000);
    await observer.observe(spec);
    expect(runtime.lists).toBe(3);
    clock.increment(10_000);
    await observer.observe(spec);
    expect(runtime.lists).toBe(3);
    // A gap in the stream drops the observation (onGap), and the next pass lists.
    observer.invalidateAll();
    await observer.observe(spec);
    expect(runtime.lists).toBe(4);
  });

  it('does not inspect a VPN container on every pass while nothing changes', async () => {
    const { clock, runtime, observer } = setup();
    const vpnPool = poolSpec({ extra: '  vpn:\n    gluetun:\n      container: gluetun\n' });
    await runtime.run({
      name: 'gluetun',
      Image: 'engine:1',
      Labels: {},
      HostConfig: { RestartPolicy: { Name: 'no' } },
    });
    await observer.observe(desired(vpnPool));
    expect(runtime.inspects).toBe(1);
    clock.increment(10_000);
    await observer.observe(desired(vpnPool));
    expect(runtime.inspects).toBe(1);
  });

  it("an event of the pool's containers from the real DockerEvents makes the next pass list; others' churn does not", async () => {
    const { clock, runtime, observer, events } = await withEvents(() => new Set(['ace']));
    expect(events.connectedSince()).toBe(T0);
    const spec = desired(poolSpec());
    clock.increment(1);
    await runtime.run({
      name: 'ace-1',
      Image: 'engine:1',
      Labels: { [LABELS.pool]: 'ace' },
      HostConfig: { RestartPolicy: { Name: 'no' } },
    });
    await settle();
    clock.increment(LIST_LAG_MS);
    await observer.observe(spec);
    clock.increment(10_000);
    await runtime.run({
      name: 'web',
      Image: 'engine:1',
      Labels: {},
      HostConfig: { RestartPolicy: { Name: 'no' } },
    });
    runtime.kill('web');
    await settle();
    await observer.observe(spec);
    expect(runtime.lists).toBe(1);

    runtime.kill('ace-1');
    await settle();
    const world = await observer.observe(spec);
    expect(runtime.lists).toBe(2);
    expect(world.containers.find((c) => c.name === 'ace-1')?.state).toBe('exited');
  });

  it('lists afresh when a pool comes back to the file: its containers changed unseen while it was out', async () => {
    const withPool = desired(poolSpec());
    let spec = withPool;
    const { clock, runtime, observer } = await withEvents(() => new Set(spec.pools.map((p) => p.name)));
    clock.increment(1);
    await runtime.run({
      name: 'ace-1',
      Image: 'engine:1',
      Labels: { [LABELS.pool]: 'ace' },
      HostConfig: { RestartPolicy: { Name: 'no' } },
    });
    await settle();
    clock.increment(LIST_LAG_MS);
    expect((await observer.observe(spec)).containers.map((c) => c.name)).toContain('ace-1');

    // The pool leaves the file; its container is removed by hand: an event the loop ignores.
    spec = desired();
    await observer.observe(spec);
    await runtime.removeContainer(runtime.find('ace-1')!.id);
    await settle();
    clock.increment(10_000);
    await observer.observe(spec);
    const lists = runtime.lists;

    spec = withPool;
    const world = await observer.observe(spec);
    expect(runtime.lists).toBe(lists + 1);
    expect(world.containers.map((c) => c.name)).not.toContain('ace-1');
  });

  it('sees a container a die event named as exited while the list still shows it running', async () => {
    const { clock, runtime, observer, spec } = setup();
    await runtime.run({
      name: 'ace-1',
      Image: 'engine:1',
      Labels: {},
      HostConfig: { RestartPolicy: { Name: 'no' } },
    });
    const id = runtime.find('ace-1')!.id;
    runtime.kill('ace-1');
    runtime.listedRunning.add('ace-1');
    observer.changed({
      Type: 'container',
      Action: 'die',
      Actor: { ID: id, Attributes: { exitCode: '137' } },
    });
    clock.increment(10);
    const before = runtime.inspects;
    let world = await observer.observe(spec);
    expect(world.containers.find((c) => c.name === 'ace-1')).toMatchObject({
      state: 'exited',
      exitCode: 137,
    });
    // One inspect tells both its state and its port bindings.
    expect(runtime.inspects - before).toBe(1);

    // Started again (a start event): the list is believed again, and no inspect is needed.
    await runtime.startContainer(id);
    observer.invalidate(id);
    const inspects = runtime.inspects;
    clock.increment(10);
    world = await observer.observe(spec);
    expect(world.containers.find((c) => c.name === 'ace-1')?.state).toBe('running');
    expect(runtime.inspects).toBe(inspects);
  });
});
