import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../support/faultProxy.js';
import { fakectl, startGluetun } from '../support/gluetun.js';
import {
  answers,
  type ControllerProcess,
  docker,
  ENGINE_IMAGE,
  poolContainers,
  poolYaml,
  TestScope,
  waitFor,
} from '../support/harness.js';

// Faults real Docker hosts produce, injected through a proxy in front of the real Docker socket
// (test/support/faultProxy.ts), and survived. Each test ends with exactly the desired engines running
// and answering, unique names and ports, nothing stopped left behind, and a log line per fault.
// Host ports 21500-21599; pools fault-*.

const scope = new TestScope();
const proxies: FaultProxy[] = [];
afterEach(async (context) => {
  await scope.cleanup(context.task.result?.state === 'fail');
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

async function proxied(): Promise<FaultProxy> {
  const proxy = await new FaultProxy().start();
  proxies.push(proxy);
  return proxy;
}

async function controller(pool: string, range: string, replicas: string, proxy?: FaultProxy) {
  return await scope
    .controller(poolYaml(pool, { range, replicas }), [pool], proxy ? { DOCKER_HOST: proxy.dockerHost } : {})
    .start();
}

/** The path of one container's calls, whatever the API version prefix. */
const containerPath = (id: string) => new RegExp(`^/containers/${id}(\\?|/|$)`);

/** Exactly `count` engines run and answer, on unique names and ports, and nothing stopped is left. */
async function converged(c: ControllerProcess, pool: string, count: number, timeoutMs = 30_000) {
  return await waitFor(
    `${pool} to run exactly ${count} ready engines and nothing else`,
    async () => {
      const all = await poolContainers(pool, true);
      const engines = await c.engines(pool);
      if (all.length !== count || all.some((x) => x.state !== 'running')) return undefined;
      if (engines.length !== count || engines.some((e) => e.state !== 'ready')) return undefined;
      const ports = engines.map((e) => e.hostPort as number);
      if (new Set(ports).size !== count || new Set(engines.map((e) => e.name)).size !== count)
        return undefined;
      if (!(await Promise.all(ports.map(answers))).every(Boolean)) return undefined;
      return engines.map((e) => `${e.name}:${e.hostPort}`).sort();
    },
    { timeoutMs },
  );
}

describe('a container Docker cannot remove', () => {
  it('holds its name and port, the pool converges around it under other names, and it goes once Docker lets it', async () => {
    const pool = 'fault-a';
    const proxy = await proxied();
    const c = await controller(pool, '21500-21509', '{ minFree: 2, max: 4 }', proxy);
    expect(await converged(c, pool, 2)).toEqual(['fault-a-1:21500', 'fault-a-2:21501']);

    const [victim] = await poolContainers(pool);
    const busy = proxy.add({
      method: 'DELETE',
      path: containerPath(victim!.id),
      status: 500,
      message: `container ${victim!.id}: driver "overlay2" failed to remove root filesystem: unlinkat /var/lib/docker/overlay2/x/merged: device or resource busy`,
    });
    const killedAt = Date.now();
    await docker.getContainer(victim!.id).kill();

    const degraded = await waitFor('the pool to converge around fault-a-1 and say why', async () => {
      const status = await c.pool(pool);
      const running = (await poolContainers(pool)).map((x) => x.name);
      const condition = status?.conditions?.find((x: { type: string }) => x.type === 'Degraded');
      return status?.replicas?.ready === 2 && running.length === 2 && condition?.reason === 'RemovalStuck'
        ? { running, condition }
        : undefined;
    });
    const convergedMs = Date.now() - killedAt;
    expect(degraded.running).toEqual(['fault-a-2', 'fault-a-3']);
    expect(degraded.condition.message).toMatch(/fault-a-1 .*cannot be removed.*device or resource busy/);
    expect(degraded.condition.message).toMatch(/docker rm -f fault-a-1/);
    expect(c.logs).toMatch(/Docker cannot remove fault-a-1; its name and port stay held/);
    // Retried with backoff, not on every pass.
    await waitFor('a second removal attempt', () => busy.hits >= 2);
    const attempts = busy.hits;

    busy.remove();
    expect(await converged(c, pool, 2)).toEqual(['fault-a-2:21501', 'fault-a-3:21502']);
    expect(c.logs).toMatch(/fault-a-1 is gone at last/);
    await waitFor('the Degraded condition to clear', async () => {
      const status = await c.pool(pool);
      return status.conditions.find((x: { type: string }) => x.type === 'Degraded')?.reason === 'AsExpected';
    });
    console.log(
      `unremovable: converged around it in ${convergedMs} ms; ${attempts} refused removals before the fault ended`,
    );
  });
});

describe('one failure is not every failure', () => {
  it('a foreign stopped container takes a name between plan and create: that create alone fails, the pool goes on', async () => {
    const pool = 'fault-b';
    const proxy = await proxied();
    const foreign = 'fault-b-2';
    scope.track(foreign);
    const thief = proxy.add({
      method: 'POST',
      path: new RegExp(`^/containers/create\\?(.*&)?name=${foreign}(&|$)`),
      times: 1,
      before: async () => {
        await docker.createContainer({ name: foreign, Image: ENGINE_IMAGE, Cmd: ['true'] });
      },
    });
    const c = await controller(pool, '21510-21519', '{ minFree: 3, max: 4 }', proxy);
    expect(await converged(c, pool, 3)).toEqual(['fault-b-1:21510', 'fault-b-3:21512', 'fault-b-4:21511']);
    expect(thief.hits).toBe(1);
    expect((await docker.getContainer(foreign).inspect()).State.Status).toBe('created');
    expect(c.logs).toMatch(/failed: create fault-b-2 .*already in use/);
    // A local failure counts nothing for the breaker.
    expect((await c.pool(pool)).circuitBreaker).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('a host process takes the port between plan and start: the port is set aside, the pool goes on', async () => {
    const pool = 'fault-c';
    const proxy = await proxied();
    let holder: Server | undefined;
    proxy.add({
      method: 'POST',
      path: /^\/containers\/[0-9a-f]+\/start/,
      times: 1,
      before: async () => {
        const server = createServer();
        holder = server;
        await new Promise<void>((resolve) => server.listen(21520, '0.0.0.0', resolve));
      },
    });
    try {
      const c = await controller(pool, '21520-21529', '{ minFree: 2, max: 4 }', proxy);
      // fault-c-1's start fails on 21520 and its slot goes to fault-c-2 (21521); the next pass places
      // fault-c-1 on 21522.
      expect(await converged(c, pool, 2)).toEqual(['fault-c-1:21522', 'fault-c-2:21521']);
      expect(c.logs).toMatch(/host port 21520 is taken outside Docker's view/);
      expect((await c.pool(pool)).circuitBreaker).toMatchObject({ state: 'closed', failures: 0 });
    } finally {
      await new Promise((resolve) => (holder ? holder.close(resolve) : resolve(undefined)));
    }
  });
});

describe('a daemon in trouble', () => {
  it('answers 500 to everything for a while: nothing counts against the engines, and the pool heals after', async () => {
    const pool = 'fault-d';
    const proxy = await proxied();
    const c = await controller(pool, '21530-21539', '{ minFree: 2, max: 4 }', proxy);
    await converged(c, pool, 2);
    const down = proxy.add({ status: 500, message: 'containerd: connection error: transport is closing' });
    const [victim] = await poolContainers(pool);
    await docker.getContainer(victim!.id).kill();
    await waitFor('/readyz to say Docker is in trouble', async () => (await c.api('/readyz')).status === 503);
    await waitFor('a few refused calls', () => down.hits >= 3);
    down.remove();
    expect(await converged(c, pool, 2)).toEqual(['fault-d-1:21530', 'fault-d-2:21531']);
    expect(c.logs).toMatch(/cannot observe Docker/);
    expect(c.logs).toMatch(/Docker answers again/);
    expect((await c.pool(pool)).circuitBreaker.state).toBe('closed');
  });

  it('is slow (500 ms per call) during a scale-up: it still converges, once', async () => {
    const pool = 'fault-e';
    const proxy = await proxied();
    const slow = proxy.add({ delayMs: 500 });
    const creates = proxy.add({ method: 'POST', path: /^\/containers\/create/ });
    const started = Date.now();
    const c = await controller(pool, '21540-21549', '{ minFree: 2, max: 4 }', proxy);
    expect(await converged(c, pool, 2, 60_000)).toHaveLength(2);
    expect(creates.hits).toBe(2);
    console.log(
      `slow daemon: 2 engines in ${Date.now() - started} ms through ${slow.hits} calls 500 ms late`,
    );
    slow.remove();
  });

  it('cuts the event stream silently: the next resync still sees a killed engine and replaces it', async () => {
    const pool = 'fault-f';
    const proxy = await proxied();
    const c = await controller(pool, '21550-21559', '{ minFree: 2, max: 4 }', proxy);
    await converged(c, pool, 2);
    proxy.silenceEvents();
    const [victim] = await poolContainers(pool);
    await docker.getContainer(victim!.id).kill();
    expect(await converged(c, pool, 2)).toEqual(['fault-f-1:21550', 'fault-f-2:21551']);
    expect(c.logs).toMatch(/remove fault-f-1 \(exited/);
  });
});

/** A small seeded PRNG (mulberry32): the same kill points on every run. */
function seeded(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

describe('the controller killed', () => {
  const rounds = Number(process.env.FAULT_ROUNDS ?? 6);

  it(`by SIGKILL at random Docker calls of scale-up and scale-down, ${rounds} rounds: the last one converges`, async () => {
    const pool = 'fault-g';
    const proxy = await proxied();
    const yaml = (size: number) =>
      poolYaml(pool, {
        range: '21560-21569',
        replicas: `{ minFree: ${size}, max: 5, scaleDownDelaySeconds: 0 }`,
      });
    const c = scope.controller(yaml(1), [pool], { DOCKER_HOST: proxy.dockerHost });
    const random = seeded(11);
    const seen: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const size = round % 2 === 0 ? 4 : 1;
      const up = size > 1;
      const at = 1 + random(3);
      c.edit(yaml(size));
      let killed: Promise<unknown> | undefined;
      let kill = () => {};
      const dead = new Promise<void>((resolve) => {
        kill = resolve;
      });
      const rule = proxy.add({
        method: up ? 'POST' : 'DELETE',
        path: up ? /^\/containers\/(create|[0-9a-f]+\/start)/ : /^\/containers\/[0-9a-f]+/,
        before: (hit) => {
          if (hit !== at || killed) return;
          killed = c.stop('SIGKILL');
          kill();
        },
      });
      // Why: the kill may come before the controller first answers /livez.
      const starting = c.start();
      starting.catch(() => {});
      await Promise.race([starting, dead]);
      await waitFor(
        `round ${round}: the kill at ${up ? 'create/start' : 'remove'} call ${at}, or convergence`,
        async () => {
          if (killed) return true;
          const running = await poolContainers(pool);
          return running.length === size && (await c.engines(pool)).every((e) => e.state === 'ready');
        },
      );
      rule.remove();
      seen.push(
        killed ? `${up ? 'up' : 'down'}: killed at call ${at}` : `${up ? 'up' : 'down'}: converged first`,
      );
      await (killed ?? c.stop('SIGKILL'));
    }
    c.edit(yaml(2));
    await c.start();
    expect(await converged(c, pool, 2)).toHaveLength(2);
    console.log(`SIGKILL rounds: ${seen.join('; ')}`);
    expect(seen.filter((s) => s.includes('killed')).length).toBeGreaterThan(0);
  });
});

describe('a VPN that flaps faster than its probes', () => {
  it('does not restart engines in a storm: restarts stay bounded, and the pool ends converged', async () => {
    const pool = 'fault-h';
    const vpn = 'fault-h-gluetun';
    scope.track(vpn);
    await startGluetun(vpn, {
      range: [21580, 21587],
      controlPort: 21590,
      env: ['FAKE_FORWARDED_PORT=51999'],
    });
    const c = await scope
      .controller(
        `apiVersion: enginepool/v1
kind: EnginePool
metadata:
  name: ${pool}
spec:
  template:
    image: ${ENGINE_IMAGE}
    args: ["--http-port={{httpPort}}", "--api-port={{apiPort}}", "--port={{p2pPort}}", "--bind-all"]
    health: { intervalSeconds: 1, timeoutSeconds: 1, failureThreshold: 2, startupTimeoutSeconds: 20 }
  replicas: { minFree: 2, max: 4 }
  ports:
    hostRange: 21580-21587
  vpn:
    gluetun:
      container: ${vpn}
      controlUrl: http://127.0.0.1:21590
      healthIntervalSeconds: 1
      failureThreshold: 2
      recoverySeconds: 3
`,
        [pool],
      )
      .start();
    await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2);
    const flapStarted = Date.now();
    const phase = async () => (await c.pool(pool))?.vpn?.phase;
    // Down until the probes call it an emergency, up until it is recovering, and down again before
    // the recovery window ends: the VPN flaps faster than the controller can call it healthy.
    const cycles = 4;
    for (let i = 0; i < cycles; i++) {
      await fakectl(vpn, 'down');
      await waitFor(`flap ${i}: emergency`, async () => (await phase()) === 'emergency');
      await fakectl(vpn, 'up');
      await waitFor(`flap ${i}: recovering`, async () => (await phase()) === 'recovering');
    }
    const flapMs = Date.now() - flapStarted;
    await waitFor('the VPN healthy again and 2 engines ready', async () => {
      const s = await c.pool(pool);
      return s?.vpn?.phase === 'healthy' && s.replicas.ready === 2;
    });
    const settledMs = Date.now() - flapStarted;
    const acted = c.logLines().filter((l) => ['restart', 'remove', 'create'].includes(String(l.action)));
    const restarts = acted.filter((l) => l.action === 'restart').length;
    console.log(
      `VPN flap: ${cycles} down/up cycles in ${flapMs} ms, settled ${settledMs} ms after the first; ${restarts} restarts, ${acted.length - restarts} creates/removes in all`,
    );
    // Each engine restarts at most once a minute, however often the VPN recovers (before: 8).
    expect(restarts).toBeLessThanOrEqual(2);
    const engines = await c.engines(pool);
    expect(new Set(engines.map((e) => e.hostPort)).size).toBe(engines.length);
  });
});
