import { afterEach, describe, expect, it } from 'vitest';
import { fakectl, waitHealthy } from '../support/gluetun.js';
import {
  answers,
  type ControllerProcess,
  docker,
  GLUETUN_IMAGE,
  onPodman,
  poolContainers,
  removeWithDependents,
  TestScope,
  waitFor,
} from '../support/harness.js';

// Engines inside a (stand-in) Gluetun container's network namespace, against a real Docker engine:
// reachable through the VPN's published ports, broken by its restart, healed by the controller.
// Host ports 24000-24999.

const scope = new TestScope();
afterEach((context) => scope.cleanup(context.task.result?.state === 'fail'));

/** Starts a stand-in Gluetun publishing `first..first+count-1` and its control server on `controlPort`. */
async function gluetun(
  name: string,
  first: number,
  count: number,
  controlPort: number,
  forwardedPort?: number,
) {
  scope.track(name);
  const bindings: Record<string, { HostPort: string }[]> = {
    '8000/tcp': [{ HostPort: String(controlPort) }],
  };
  const exposed: Record<string, object> = { '8000/tcp': {} };
  for (let port = first; port < first + count; port++) {
    bindings[`${port}/tcp`] = [{ HostPort: String(port) }];
    exposed[`${port}/tcp`] = {};
  }
  const container = await docker.createContainer({
    name,
    Image: GLUETUN_IMAGE,
    Env: [`FAKE_FORWARDED_PORT=${forwardedPort ?? ''}`, 'HTTP_CONTROL_SERVER_LOG=off'],
    ExposedPorts: exposed,
    HostConfig: { PortBindings: bindings },
    Healthcheck: {
      Test: ['CMD', '/usr/local/bin/healthcheck'],
      Interval: 1_000_000_000,
      Timeout: 2_000_000_000,
      Retries: 2,
      StartPeriod: 0,
    },
  });
  await container.start();
  await waitHealthy(name);
  return container;
}

function vpnPoolYaml(
  pool: string,
  vpn: string,
  options: { range: string; controlPort: number; replicas: string; extra?: string },
) {
  return `apiVersion: enginepool/v1
kind: EnginePool
metadata:
  name: ${pool}
spec:
  template:
    image: enginepool/stand-in-engine:dev
    args: ["--http-port={{httpPort}}", "--api-port={{apiPort}}", "--port={{p2pPort}}", "--bind-all"]
    health: { intervalSeconds: 1, timeoutSeconds: 1, failureThreshold: 2, startupTimeoutSeconds: 20 }
  replicas: ${options.replicas}
  ports:
    hostRange: ${options.range}
  vpn:
    gluetun:
      container: ${vpn}
      controlUrl: http://127.0.0.1:${options.controlPort}
      healthIntervalSeconds: 1
      failureThreshold: 2
      recoverySeconds: 3
      forwardedPort: true
${options.extra ?? ''}`;
}

async function startController(pool: string, yaml: string) {
  return await scope.controller(yaml, [pool]).start();
}

async function streamOnEveryReadyEngine(c: ControllerProcess, pool: string) {
  for (const engine of await c.engines(pool)) {
    if (engine.state === 'ready' && engine.streams === 0) {
      await c.api(`/api/v1/pools/${pool}/engines/${engine.name}/streams`, {
        method: 'POST',
        token: c.token,
        body: { id: `load-${engine.name}-${engine.containerId.slice(0, 8)}` },
      });
    }
  }
}

describe('engines inside the VPN namespace', () => {
  it('answer through the VPN ports, fill exactly the 10 published ports under load, with one forwarded engine and distinct P2P ports', async () => {
    const pool = 'vpn-a';
    const vpn = 'vpn-a-gluetun';
    await gluetun(vpn, 24000, 10, 24050, 51413);
    const c = await startController(
      pool,
      vpnPoolYaml(pool, vpn, {
        range: '24000-24019',
        controlPort: 24050,
        replicas: '{ minFree: 2, max: 20 }',
      }),
    );
    await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2);
    const status = await c.pool(pool);
    expect(status.vpn).toMatchObject({
      container: vpn,
      phase: 'healthy',
      forwardedPort: 51413,
      publicIp: '203.0.113.7',
    });

    const grown = await waitFor(
      'the pool to fill the 10 published ports',
      async () => {
        await streamOnEveryReadyEngine(c, pool);
        const s = await c.pool(pool);
        const limited = s.conditions.find((x: any) => x.type === 'ScalingLimited');
        return s.replicas.total === 10 && s.replicas.used === 10 && limited.reason === 'PortsExhausted' && s;
      },
      { timeoutMs: 60_000 },
    );
    expect(grown.replicas.ready).toBe(10);
    expect(grown.circuitBreaker).toMatchObject({ state: 'closed', failures: 0 });

    const containers = await poolContainers(pool);
    expect(containers).toHaveLength(10);
    const details = await Promise.all(containers.map((x) => docker.getContainer(x.id).inspect()));
    const gluetunId = (await docker.getContainer(vpn).inspect()).Id;
    for (const d of details) {
      expect(d.HostConfig.NetworkMode).toBe(`container:${gluetunId}`);
      expect(d.HostConfig.PortBindings ?? {}).toEqual({});
    }
    const hostPorts = containers.map((x) => Number(x.labels['io.enginepool.host-port']));
    expect(new Set(hostPorts).size).toBe(10);
    for (const port of hostPorts) {
      expect(port).toBeLessThan(24010);
      expect(await answers(port)).toBe(true);
    }
    const infos = await Promise.all(
      hostPorts.map(
        async (port) =>
          (await (await fetch(`http://127.0.0.1:${port}/fake/info`)).json()) as { p2pPort: number },
      ),
    );
    const p2p = infos.map((i) => i.p2pPort);
    expect(new Set(p2p).size).toBe(10);
    const forwarded = containers.filter((x) => x.labels['io.enginepool.forwarded'] === 'true');
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.labels['io.enginepool.p2p-port']).toBe('51413');
    expect(p2p).toContain(51413);
    expect(c.logs).not.toMatch(/"level":"(error|fatal)"/);
    expect(c.logs).not.toMatch(/"action":"create".*"failure"/);
  });
});

describe('VPN outages and port changes', () => {
  it('holds provisioning while the VPN is down, recreates only the forwarded engine once for a new port, and restores the pool', async () => {
    const pool = 'vpn-b';
    const vpn = 'vpn-b-gluetun';
    await gluetun(vpn, 24100, 8, 24150, 40001);
    const c = await startController(
      pool,
      vpnPoolYaml(pool, vpn, {
        range: '24100-24107',
        controlPort: 24150,
        replicas: '{ minFree: 2, max: 8 }',
      }),
    );
    await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2);
    const before = await poolContainers(pool);
    const forwardedBefore = before.find((x) => x.labels['io.enginepool.forwarded'] === 'true')!;
    const othersBefore = before.filter((x) => x.id !== forwardedBefore.id).map((x) => x.id);

    await fakectl(vpn, 'down');
    const down = await waitFor('the phase to leave healthy', async () => {
      const s = await c.pool(pool);
      return s.vpn.phase === 'emergency' && s;
    });
    expect(down.conditions.find((x: any) => x.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'VpnNotReady',
    });
    expect((await c.engines(pool)).every((e) => e.state !== 'ready')).toBe(true);
    expect((await c.api(`/api/v1/pools/${pool}/acquire`, { method: 'POST', token: c.token })).status).toBe(
      503,
    );
    // Demand rises while the VPN is down: nothing is provisioned, and that is not a failure.
    for (const engine of before) {
      await c.api(`/api/v1/pools/${pool}/engines/${engine.name}/streams`, {
        method: 'POST',
        token: c.token,
        body: { id: `s-${engine.name}` },
      });
    }
    const passes = async () =>
      (await c.api('/metrics')).text.match(
        new RegExp(`enginepool_reconcile_total\\{pool="${pool}",result="\\w+"\\} (\\d+)`, 'g'),
      )?.length;
    const seen = await passes();
    await waitFor(
      'a few passes while down',
      async () =>
        (await c.pool(pool)).vpn.phase === 'emergency' &&
        (await passes()) !== undefined &&
        seen !== undefined,
    );
    expect((await poolContainers(pool, true)).map((x) => x.id).sort()).toEqual(
      before.map((x) => x.id).sort(),
    );
    expect((await c.pool(pool)).circuitBreaker.failures).toBe(0);

    await fakectl(vpn, 'up', '40002');
    await waitFor(
      'a new forwarded engine on port 40002 and the pool restored',
      async () => {
        const now = await poolContainers(pool);
        const fwd = now.filter((x) => x.labels['io.enginepool.forwarded'] === 'true');
        const s = await c.pool(pool);
        return (
          s.vpn.phase === 'healthy' &&
          fwd.length === 1 &&
          fwd[0]!.labels['io.enginepool.p2p-port'] === '40002' &&
          s.replicas.free >= 2
        );
      },
      { timeoutMs: 60_000 },
    );
    const removals = c.logLines().filter((l) => l.pool === pool && l.action === 'remove');
    expect(removals.map((l) => `${l.engine}: ${l.reason}`)).toEqual([
      `${forwardedBefore.name}: forwarded port changed from 40001 to 40002`,
    ]);
    const after = (await poolContainers(pool)).map((x) => x.id);
    for (const id of othersBefore) expect(after).toContain(id);
    await waitFor('the gentle restarts in the log', () =>
      /VPN reconnected at .*restarting engines/.test(c.logs),
    );
  });

  it('moves only the forwarded engine when the port changes while healthy', async () => {
    const pool = 'vpn-c';
    const vpn = 'vpn-c-gluetun';
    await gluetun(vpn, 24200, 6, 24250, 41001);
    const c = await startController(
      pool,
      vpnPoolYaml(pool, vpn, {
        range: '24200-24205',
        controlPort: 24250,
        replicas: '{ minFree: 3, max: 6 }',
      }),
    );
    await waitFor('3 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 3);
    const before = await poolContainers(pool);
    const forwardedBefore = before.find((x) => x.labels['io.enginepool.forwarded'] === 'true')!;
    await fakectl(vpn, 'port', '41002');
    await waitFor('the forwarded engine on 41002', async () => {
      const now = await poolContainers(pool);
      const fwd = now.filter((x) => x.labels['io.enginepool.forwarded'] === 'true');
      return (
        fwd.length === 1 &&
        fwd[0]!.labels['io.enginepool.p2p-port'] === '41002' &&
        (await c.pool(pool)).replicas.ready === 3
      );
    });
    const after = (await poolContainers(pool)).map((x) => x.id);
    for (const x of before.filter((b) => b.id !== forwardedBefore.id)) expect(after).toContain(x.id);
    expect(after).not.toContain(forwardedBefore.id);
  });
});

describe('the VPN container restarted or recreated', () => {
  it('restarts engines when the VPN container restarts, recreates them when it is recreated, and every engine answers again', async () => {
    const pool = 'vpn-d';
    const vpn = 'vpn-d-gluetun';
    let container = await gluetun(vpn, 24300, 4, 24350, 42001);
    const c = await startController(
      pool,
      vpnPoolYaml(pool, vpn, {
        range: '24300-24303',
        controlPort: 24350,
        replicas: '{ minFree: 2, max: 4 }',
      }),
    );
    await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2);
    const ports = async () =>
      (await poolContainers(pool)).map((x) => Number(x.labels['io.enginepool.host-port']));
    const allAnswer = async () => {
      const list = await ports();
      return list.length === 2 && (await Promise.all(list.map(answers))).every(Boolean);
    };
    const ids = (await poolContainers(pool)).map((x) => x.id);

    await container.restart({ t: 1 });
    await waitFor('every engine to answer after the VPN restart', allAnswer, { timeoutMs: 60_000 });
    expect((await poolContainers(pool)).map((x) => x.id)).toEqual(ids);
    await waitFor('the restarts in the log', () => /restarted at .*the engine lost its network/.test(c.logs));

    // Why: Podman keeps engines in the VPN's namespace as its dependents and refuses to remove it
    // before them (Docker does not); there they go with it, as with `podman rm --depend`, once the
    // controller has stopped adding engines (it does while the VPN is not healthy).
    const podman = await onPodman();
    if (podman) {
      await fakectl(vpn, 'down');
      await waitFor('the VPN out of healthy', async () => (await c.pool(pool)).vpn.phase !== 'healthy');
      await removeWithDependents(vpn);
    } else await container.remove({ force: true });
    container = await gluetun(vpn, 24300, 4, 24350, 42001);
    await waitFor(
      'every engine to answer after the VPN was recreated',
      async () => {
        const now = (await poolContainers(pool)).map((x) => x.id);
        return now.every((id) => !ids.includes(id)) && (await allAnswer());
      },
      { timeoutMs: 60_000 },
    );
    if (!podman) {
      await waitFor('the recreations in the log', () =>
        /was recreated; the engine is bound to its old namespace/.test(c.logs),
      );
    }
  });
});

describe('several VPNs', () => {
  it('gives each pool its own VPN, range and forwarded engine, failing and recovering independently', async () => {
    await gluetun('vpn-e1-gluetun', 24400, 4, 24450, 43001);
    await gluetun('vpn-e2-gluetun', 24500, 4, 24550, 43002);
    const yaml = [
      vpnPoolYaml('vpn-e1', 'vpn-e1-gluetun', {
        range: '24400-24403',
        controlPort: 24450,
        replicas: '{ minFree: 2, max: 4 }',
      }),
      vpnPoolYaml('vpn-e2', 'vpn-e2-gluetun', {
        range: '24500-24503',
        controlPort: 24550,
        replicas: '{ minFree: 2, max: 4 }',
      }),
    ].join('---\n');
    const c = await scope.controller(yaml, ['vpn-e1', 'vpn-e2']).start();
    for (const pool of ['vpn-e1', 'vpn-e2']) {
      await waitFor(`${pool} ready`, async () => (await c.pool(pool))?.replicas?.ready === 2);
    }
    expect((await c.pool('vpn-e1')).vpn.forwardedPort).toBe(43001);
    expect((await c.pool('vpn-e2')).vpn.forwardedPort).toBe(43002);

    await fakectl('vpn-e1-gluetun', 'down');
    await waitFor('vpn-e1 in emergency', async () => (await c.pool('vpn-e1')).vpn.phase === 'emergency');
    const other = await c.pool('vpn-e2');
    expect(other.vpn.phase).toBe('healthy');
    expect(other.replicas.ready).toBe(2);
    await fakectl('vpn-e1-gluetun', 'up');
    await waitFor('vpn-e1 healthy again', async () => (await c.pool('vpn-e1')).vpn.phase === 'healthy', {
      timeoutMs: 30_000,
    });
  });
});
