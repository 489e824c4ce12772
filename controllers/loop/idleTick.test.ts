import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { DockerContainerSummary } from '../../state/observed.js';
import { parseSpec } from '../../state/spec/index.js';
import { poolYaml } from '../../test/support/fixtures.js';
import { MemoryRuntime } from '../../test/support/memoryRuntime.js';
import { silentLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { StreamRegistry } from '../streams/registry.js';
import { Controller } from './controller.js';
import { concernsPools, DockerEvents } from './events.js';

// Whole ticks of the real Controller wired to the real DockerEvents, as `run` wires them: a converged
// pool at rest costs no Docker call per resync pass, and a killed engine is still replaced at once.

const T0 = Date.parse('2026-12-07T12:00:00.000Z');

class CountingRuntime extends MemoryRuntime {
  lists = 0;
  override async listContainers(): Promise<DockerContainerSummary[]> {
    this.lists++;
    return super.listContainers();
  }
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('Controller at rest with a healthy event stream', () => {
  it('asks Docker nothing on resync passes, and replaces a killed engine on the pass its die event wakes', async () => {
    const clock = new SimulatedClock();
    clock.set(T0);
    const runtime = new CountingRuntime(clock);
    runtime.addImage('engine:1');
    const parsed = parseSpec(poolYaml({ replicas: '{ minFree: 2, max: 4, scaleDownDelaySeconds: 30 }' }));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const spec = parsed.spec;
    const logger = silentLogger();
    let events!: DockerEvents;
    const controller = new Controller({
      docker: runtime,
      clock,
      logger,
      metrics: new Metrics({ defaultMetrics: false }),
      specState: () => ({ spec, generations: new Map([['ace', 1]]) }),
      registry: new StreamRegistry({ clock, logger }),
      self: () => ({ inContainer: false, networks: {}, dockerHost: '127.0.0.1' }),
      wake: () => {},
      httpGet: runtime.httpGet,
      eventStreamSince: () => events.connectedSince(),
    });
    events = new DockerEvents({
      docker: runtime,
      clock,
      logger,
      wake: () => {},
      relevant: (event) => concernsPools(event, new Set(['ace']), new Set()),
      onStarted: (id) => controller.invalidate(id),
      onChanged: (event) => controller.containersChanged(event),
      onGap: () => controller.invalidate(),
    });
    events.start();
    closers.push(
      () => events.stop(),
      () => controller.close(),
    );
    await settle();
    const pass = async () => {
      const result = await controller.tickOnce();
      await settle();
      return result.actions.map((a) => `${a.kind} ${a.name}`);
    };
    const advance = async (ms: number) => {
      for (let left = ms; left > 0; left -= 250) {
        clock.increment(Math.min(250, left));
        await settle();
      }
    };

    expect(await pass()).toEqual(['create ace-1', 'create ace-2']);
    // The next pass starts probing the new engines; their first answers make them ready.
    await advance(2_000);
    expect(await pass()).toEqual([]);
    await advance(250);
    expect(await pass()).toEqual([]);
    expect(controller.view.poolStatus('ace')?.replicas).toMatchObject({ ready: 2, free: 2 });

    // A minute of resync passes at rest: no list, no inspect, no write.
    const lists = runtime.lists;
    const writes = runtime.calls.length;
    for (let i = 0; i < 6; i++) {
      await advance(10_000);
      expect(await pass()).toEqual([]);
    }
    expect(runtime.lists).toBe(lists);
    expect(runtime.calls.length).toBe(writes);

    runtime.kill('ace-1');
    await settle();
    expect(await pass()).toEqual(['remove ace-1', 'create ace-1']);
    expect(runtime.running()).toEqual(['ace-1', 'ace-2']);
  });
});
