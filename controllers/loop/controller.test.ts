import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { PoolStatus } from '../../reconcilers/status.js';
import { parseSpec } from '../../state/spec/index.js';
import { poolYaml as anyPoolYaml, type PoolYamlOptions } from '../../test/support/fixtures.js';
import { GluetunControl, type ImageBehaviour, MemoryRuntime } from '../../test/support/memoryRuntime.js';
import type { SpecState } from '../config/specSource.js';
import { silentLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { StreamRegistry } from '../streams/registry.js';
import { Controller, type TickResult } from './controller.js';
import { DockerEvents } from './events.js';

// Whole ticks of the real Controller on an in-memory runtime and a simulated clock: observe, plan, act,
// probe and the machines, with nothing mocked inside the controller. Time moves only when a test steps
// the clock, so each scenario is deterministic and takes milliseconds.

const T0 = Date.parse('2026-12-07T12:00:00.000Z');
/** The clock moves in steps of a starting engine's probe interval, so every due timer fires in its step. */
const STEP_MS = 250;

/** A pool of two free engines at most four, as YAML. */
function poolYaml(options: PoolYamlOptions = {}): string {
  return anyPoolYaml({ replicas: '{ minFree: 2, max: 4, scaleDownDelaySeconds: 30 }', ...options });
}

/** A controller over `runtime`, its HTTP client answered by the runtime and the Gluetun stand-in. */
class Rig {
  readonly controller: Controller;
  readonly wakes: string[] = [];
  /** At each publication of the read model: the runtime calls made so far and the engines shown. */
  readonly publications: { calls: number; engines: string[] }[] = [];
  private state: SpecState;

  constructor(
    readonly clock: SimulatedClock,
    readonly runtime: MemoryRuntime,
    yaml: string,
    readonly gluetun = new GluetunControl(runtime, 'gluetun'),
  ) {
    this.state = Rig.parse(yaml, 1);
    const logger = silentLogger();
    this.controller = new Controller({
      docker: runtime,
      clock,
      logger,
      metrics: new Metrics({ defaultMetrics: false }),
      specState: () => this.state,
      registry: new StreamRegistry({ clock, logger }),
      self: () => ({ inContainer: false, networks: {}, dockerHost: '127.0.0.1' }),
      wake: (reason) => this.wakes.push(reason),
      httpGet: this.gluetun.httpGet,
      onPublish: () =>
        this.publications.push({
          calls: runtime.calls.length,
          engines: this.controller.view.engines('ace')?.map((e) => e.name) ?? [],
        }),
    });
    rigs.push(this);
  }

  private static parse(yaml: string, generation: number): SpecState {
    const result = parseSpec(yaml);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    return {
      spec: result.spec,
      generations: new Map(result.spec.pools.map((p) => [p.name, generation])),
    };
  }

  /** Saves a new version of the file. */
  edit(yaml: string): void {
    this.state = Rig.parse(yaml, 2);
  }

  /** One reconcile pass, then everything it set off (its creates' events, probe arms) settles. */
  async tick(): Promise<TickResult> {
    const result = await this.controller.tickOnce();
    await settle();
    return result;
  }

  /** One pass, as the lines of its actions. */
  async actions(): Promise<string[]> {
    return (await this.tick()).actions.map((a) => `${a.kind} ${a.name}`);
  }

  /** Moves the clock by `ms` in steps; each step fires what is due (probes, machines) and lets it finish. */
  async advance(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= STEP_MS) {
      this.clock.increment(Math.min(STEP_MS, left));
      await settle();
    }
  }

  /** Passes and probe rounds until a pass has nothing to do; fails after `maxPasses`. */
  async converge(maxPasses = 10): Promise<void> {
    for (let i = 0; i < maxPasses; i++) {
      const { actions } = await this.tick();
      await this.advance(STEP_MS);
      if (actions.length === 0 && this.condition('Ready')?.status === 'True') return;
    }
    throw new Error(`not converged after ${maxPasses} passes: ${JSON.stringify(this.status()?.conditions)}`);
  }

  status(pool = 'ace'): PoolStatus | undefined {
    return this.controller.view.poolStatus(pool);
  }

  condition(type: string, pool = 'ace') {
    return this.status(pool)?.conditions.find((c) => c.type === type);
  }

  /** `Type=Status Reason` of every condition. */
  conditions(pool = 'ace'): string[] {
    return (this.status(pool)?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason}`);
  }
}

/** The conditions of a pool that matches its file. */
const CONVERGED = [
  'Ready=True MinFreeAvailable',
  'Progressing=False Converged',
  'Degraded=False AsExpected',
  'ScalingLimited=False WithinLimits',
];

/** Lets promise chains started by a timer or a Docker call run to their end (no time passes). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const rigs: Rig[] = [];

function setup(yaml: string, images: Record<string, ImageBehaviour> = { 'engine:1': {} }) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const runtime = new MemoryRuntime(clock);
  for (const [ref, behaviour] of Object.entries(images)) runtime.addImage(ref, behaviour);
  return new Rig(clock, runtime, yaml);
}

afterEach(() => {
  for (const rig of rigs.splice(0)) rig.controller.close();
});

describe('Controller: whole ticks on an in-memory runtime', () => {
  it('converges from an empty Docker to minFree ready engines on the lowest names and ports', async () => {
    const rig = setup(poolYaml());
    expect(await rig.actions()).toEqual(['create ace-1', 'create ace-2']);
    expect(rig.runtime.running()).toEqual(['ace-1', 'ace-2']);
    expect(rig.runtime.list().map((c) => c.body.Labels['io.enginepool.host-port'])).toEqual([
      '19000',
      '19001',
    ]);
    // A status is as of its pass's observation: the engines this pass created show in the next one.
    expect(rig.conditions()).toEqual([
      'Ready=False NotEnoughFree',
      'Progressing=True ScalingUp',
      'Degraded=False AsExpected',
      'ScalingLimited=False WithinLimits',
    ]);
    expect(await rig.actions()).toEqual([]);
    expect(rig.conditions()).toEqual([
      'Ready=False EnginesStarting',
      'Progressing=True ScalingUp',
      'Degraded=False AsExpected',
      'ScalingLimited=False WithinLimits',
    ]);

    await rig.advance(STEP_MS);
    expect(rig.wakes).toEqual(expect.arrayContaining(['ace-1 ready', 'ace-2 ready']));
    expect(await rig.actions()).toEqual([]);
    expect(rig.conditions()).toEqual(CONVERGED);
    expect(rig.status()?.replicas).toMatchObject({ total: 2, ready: 2, free: 2 });
    expect(
      rig.controller.view.engines('ace')?.map((e) => `${e.name} ${e.state} ${e.host}:${e.port}`),
    ).toEqual(['ace-1 ready 127.0.0.1:19000', 'ace-2 ready 127.0.0.1:19001']);
  });

  it('replaces an engine that died under the same name and port, woken by the die event', async () => {
    const rig = setup(poolYaml());
    await rig.converge();
    const events = new DockerEvents({
      docker: rig.runtime,
      clock: rig.clock,
      logger: silentLogger(),
      wake: (reason) => rig.wakes.push(reason),
      onStarted: (id) => rig.controller.invalidate(id),
      onGap: () => rig.controller.invalidate(),
    });
    events.start();
    onTestFinished(() => events.stop());
    await settle();
    const before = rig.runtime.find('ace-1')!.id;

    rig.runtime.kill('ace-1');
    await settle();
    expect(rig.wakes).toContain('die ace-1');
    const pass = await rig.tick();
    expect(pass.actions.map((a) => `${a.kind} ${a.name}: ${a.reason}`)).toEqual([
      'remove ace-1: exited with code 137',
      'create ace-1: scale up: 0 used + minFree 2 = 2 wanted, 1 running or starting',
    ]);
    const after = rig.runtime.find('ace-1')!;
    expect(after.id).not.toBe(before);
    expect(after.body.Labels['io.enginepool.host-port']).toBe('19000');
    expect(rig.runtime.running()).toEqual(['ace-1', 'ace-2']);

    await rig.converge();
    // An engine that was ready once and then died is not a provisioning failure.
    expect(rig.status()?.circuitBreaker).toEqual({ state: 'closed', failures: 0 });
  });

  it('publishes what a pass saw before it acts, so the status page shows a dead engine at once', async () => {
    const rig = setup(poolYaml());
    await rig.converge();
    rig.runtime.kill('ace-1');
    const calls = rig.runtime.calls.length;
    rig.publications.length = 0;
    await rig.tick();
    expect(rig.publications.map((p) => ({ ...p, calls: p.calls - calls }))).toEqual([
      { calls: 0, engines: ['ace-2'] },
      { calls: rig.runtime.calls.length - calls, engines: ['ace-2'] },
    ]);
    expect(rig.runtime.calls.slice(calls)).toContain('remove ace-1');
  });

  it('sets aside a host port a process outside Docker holds, and starts the engine on the next one', async () => {
    const rig = setup(poolYaml({ replicas: '{ minFree: 1, max: 4 }' }));
    rig.runtime.hostProcessPorts.add(19000);
    const refused = await rig.tick();
    expect(refused.outcomes).toMatchObject([
      { ok: false, error: expect.stringMatching(/^host port 19000 is taken/) },
    ]);
    expect(rig.runtime.list()).toEqual([]);
    await rig.advance(1_000);
    await rig.converge();
    expect(rig.runtime.list().map((c) => `${c.name} ${c.body.Labels['io.enginepool.host-port']}`)).toEqual([
      'ace-1 19001',
    ]);
    // Docker refusing a port says nothing about the template: the breaker has counted nothing.
    expect(rig.status()?.circuitBreaker).toEqual({ state: 'closed', failures: 0 });
  });

  it('opens the breaker on an image that fails to start, tries once after openSeconds, and closes when it works', async () => {
    const broken = 'exec: "engine": executable file not found in $PATH';
    const rig = setup(poolYaml({ extra: '  circuitBreaker: { failureThreshold: 2, openSeconds: 30 }\n' }), {
      'engine:1': { startError: broken },
    });
    // The first create of each pass fails and stops that pass's other creates (slow start); a failed
    // pass asks for another one a second later.
    const first = await rig.tick();
    expect(first.outcomes.map((o) => (o.ok ? 'ok' : (o.failure ?? o.skipped)))).toEqual([
      'StartFailed',
      'earlierCreateFailed',
    ]);
    expect(first.requeueAt).toBe(T0 + 1_000);
    await rig.advance(1_000);
    expect(await rig.actions()).toEqual(['create ace-1', 'create ace-2']);
    expect(rig.status()?.circuitBreaker).toMatchObject({ state: 'closed', failures: 1 });
    await rig.advance(1_000);
    expect(await rig.actions()).toEqual([]);
    expect(rig.status()?.circuitBreaker).toMatchObject({ state: 'open', failures: 2 });
    expect(rig.runtime.list()).toEqual([]);
    expect(rig.conditions()).toEqual([
      'Ready=False CircuitOpen',
      'Progressing=False CircuitOpen',
      'Degraded=True StartFailed',
      'ScalingLimited=False WithinLimits',
    ]);
    expect(rig.condition('Degraded')?.message).toContain(broken);

    // Open: no create at all until openSeconds have passed.
    const calls = rig.runtime.calls.length;
    await rig.advance(28_000);
    expect(await rig.actions()).toEqual([]);
    expect(rig.runtime.calls.length).toBe(calls);

    // The image is fixed; half-open after 30 s lets exactly one trial create through.
    rig.runtime.addImage('engine:1');
    await rig.advance(1_000);
    expect(rig.wakes).toContain('machines of ace changed');
    expect(await rig.actions()).toEqual(['create ace-1']);
    expect(rig.status()?.circuitBreaker.state).toBe('halfOpen');
    expect(await rig.actions()).toEqual([]);

    // The trial engine answers: closed, failures forgotten, and the pool fills up.
    await rig.advance(STEP_MS);
    expect(await rig.actions()).toEqual(['create ace-2']);
    expect(rig.status()?.circuitBreaker).toMatchObject({ state: 'closed', failures: 0 });
    await rig.converge();
    expect(rig.conditions()).toEqual(CONVERGED);
  });

  it('holds a VPN pool through an emergency and restarts its engines a few at a time after recovery', async () => {
    const rig = setup(
      poolYaml({
        extra:
          '  vpn:\n    gluetun:\n      container: gluetun\n      healthIntervalSeconds: 5\n      failureThreshold: 2\n      recoverySeconds: 30\n',
      }),
      { 'engine:1': {}, 'gluetun:stand-in': {} },
    );
    const bindings = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`${19000 + i}/tcp`, [{ HostPort: String(19000 + i) }]]),
    );
    await rig.runtime.run({
      name: 'gluetun',
      Image: 'gluetun:stand-in',
      Labels: {},
      HostConfig: { PortBindings: bindings, RestartPolicy: { Name: 'no' } },
    });

    // Nothing starts before the VPN has been probed once.
    expect(await rig.actions()).toEqual([]);
    expect(rig.condition('Ready')?.reason).toBe('VpnNotReady');
    await rig.advance(STEP_MS);
    expect(rig.wakes).toContain('machines of ace changed');
    await rig.converge();
    expect(rig.status()?.vpn.phase).toBe('healthy');
    expect(rig.runtime.list().map((c) => c.body.HostConfig.NetworkMode)).toEqual([
      undefined,
      'container:gluetun',
      'container:gluetun',
    ]);

    // The tunnel goes down: two failed probes five seconds apart make an emergency. Engines are held,
    // never judged or removed; the pool says why.
    rig.gluetun.vpnUp = false;
    await rig.advance(10_000);
    expect(await rig.actions()).toEqual([]);
    expect(rig.status()?.vpn).toMatchObject({ phase: 'emergency', lastError: 'VPN status is "stopped"' });
    expect(rig.conditions()).toEqual([
      'Ready=False VpnNotReady',
      'Progressing=False VpnNotReady',
      'Degraded=True VpnDown',
      'ScalingLimited=False WithinLimits',
    ]);
    expect(rig.runtime.running()).toEqual(['ace-1', 'ace-2', 'gluetun']);

    // Back up: recovering, and the engines (started before the reconnect) restart one pass at a time,
    // the next only once the restarted one is ready again.
    rig.gluetun.vpnUp = true;
    await rig.advance(5_000);
    expect(rig.status()?.vpn.phase).toBe('emergency');
    expect(await rig.actions()).toEqual(['restart ace-1']);
    expect(rig.status()?.vpn.phase).toBe('recovering');
    expect(await rig.actions()).toEqual([]);
    await rig.advance(STEP_MS);
    expect(await rig.actions()).toEqual(['restart ace-2']);
    await rig.advance(STEP_MS);
    expect(await rig.actions()).toEqual([]);
    expect(rig.condition('Ready')?.status).toBe('True');

    await rig.advance(30_000);
    await rig.tick();
    expect(rig.status()?.vpn.phase).toBe('healthy');
    expect(rig.runtime.calls.filter((c) => !c.endsWith('gluetun'))).toEqual([
      'create ace-1',
      'start ace-1',
      'create ace-2',
      'start ace-2',
      'restart ace-1',
      'restart ace-2',
    ]);
  });

  it('rolls a template change through the pool, a new engine ready before each old one goes', async () => {
    const rig = setup(poolYaml(), { 'engine:1': {}, 'engine:2': {} });
    await rig.converge();
    rig.edit(poolYaml({ image: 'engine:2' }));

    const passes: string[][] = [];
    for (let i = 0; i < 12 && rig.runtime.list().some((c) => c.body.Image === 'engine:1'); i++) {
      passes.push(await rig.actions());
      if (passes.length === 1) expect(rig.condition('Progressing')?.reason).toBe('RollingUpdate');
      // Why: an old engine goes only once its replacement is ready, so the pool never runs short.
      expect(rig.runtime.running().length).toBeGreaterThanOrEqual(2);
      await rig.advance(STEP_MS);
    }
    expect(passes.filter((p) => p.length > 0)).toEqual([
      ['create ace-3'],
      ['remove ace-2'],
      ['create ace-2'],
      ['remove ace-1'],
    ]);
    await rig.converge();
    expect(rig.runtime.list().map((c) => `${c.name} ${c.body.Image}`)).toEqual([
      'ace-3 engine:2',
      'ace-2 engine:2',
    ]);
    expect(rig.status()).toMatchObject({ generation: 2, observedGeneration: 2 });
    expect(rig.condition('Progressing')?.reason).toBe('Converged');
  });

  it('adopts the running engines after a restart: a new controller creates and removes nothing', async () => {
    const first = setup(poolYaml());
    await first.converge();
    const ids = first.runtime.list().map((c) => c.id);
    first.controller.close();
    await first.advance(60_000);

    const second = new Rig(first.clock, first.runtime, poolYaml());
    const calls = first.runtime.calls.length;
    expect(await second.actions()).toEqual([]);
    expect(second.condition('Ready')?.reason).toBe('EnginesStarting');
    await second.advance(STEP_MS);
    expect(await second.actions()).toEqual([]);
    expect(second.conditions()).toEqual(CONVERGED);
    expect(first.runtime.calls.slice(calls)).toEqual([]);
    expect(first.runtime.list().map((c) => c.id)).toEqual(ids);
  });
});
