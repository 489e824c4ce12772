import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStream } from '../support/acexy.js';
import { answers, cli, poolYaml, TestScope, waitFor } from '../support/harness.js';
import { SwarmLab } from '../support/swarm.js';

// Swarm pools on a one-node swarm the file makes itself (a private dockerd in its own network
// namespace; never the host's dockerd): everything the Docker runtime promises, with engines as
// one-replica services. Host ports 26000-26099 (engines), 26900-26909 (controllers).

const scope = new TestScope();
let lab: SwarmLab;
const CONTROLLER_PORTS = [26900, 26901];
const ENGINE_PORTS = Array.from({ length: 40 }, (_, i) => 26000 + i);

beforeAll(async () => {
  lab = await SwarmLab.up('s1', 1, 0);
  await lab.forward([...CONTROLLER_PORTS, ...ENGINE_PORTS]);
}, 120_000);
afterEach(async (context) => {
  await scope.cleanup(context.task.result?.state === 'fail');
  await lab.removeServices();
});
afterAll(async () => {
  await lab?.down();
});

function swarmPool(name: string, range: string, replicas: string, env = '') {
  return poolYaml(name, {
    range,
    replicas,
    ...(env ? { template: `    env: { ${env} }\n` } : {}),
    extra: '  runtime: swarm\n',
  });
}

/** The engine containers of a pool's tasks on the node (with the pool label). */
async function taskContainers(pool: string) {
  return await lab.docker().listContainers({ filters: { label: [`io.enginepool.pool=${pool}`] } });
}

describe('a Swarm pool on one node', () => {
  it('converges to <pool>-1..N one-replica services on host-mode ports with the labels on service and task, answering at the node', async () => {
    const pool = 'swarm-a';
    const started = Date.now();
    const c = await lab
      .controller(scope, swarmPool(pool, '26000-26009', '{ minFree: 3, max: 5 }'), 26900)
      .start();
    await waitFor('3 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 3, {
      timeoutMs: 60_000,
    });
    const firstCreate = Date.parse(String(c.logLines().find((l) => l.action === 'create')?.time));
    console.log(
      `one-node swarm: 3 engines ready ${Date.now() - started} ms after the controller started (${Date.now() - firstCreate} ms after its first create)`,
    );

    const services = await lab.services(pool);
    expect(services.map((s) => s.Spec.Name)).toEqual([`${pool}-1`, `${pool}-2`, `${pool}-3`]);
    // `plan` sees the services as the running controller does: nothing to do.
    const plan = await cli(['plan', '--config', c.config], { DOCKER_HOST: lab.dockerHost() });
    expect([plan.code, plan.stderr]).toEqual([0, '']);
    const ports = new Set<number>();
    for (const service of services) {
      expect(service.Spec.Mode.Replicated.Replicas).toBe(1);
      expect(service.Spec.TaskTemplate.RestartPolicy.Condition).toBe('none');
      const [published] = service.Spec.EndpointSpec.Ports;
      expect(published.PublishMode).toBe('host');
      expect(Number(service.Spec.Labels['io.enginepool.host-port'])).toBe(published.PublishedPort);
      expect(service.Spec.TaskTemplate.ContainerSpec.Labels).toEqual(service.Spec.Labels);
      ports.add(published.PublishedPort);
      expect(await answers(published.PublishedPort)).toBe(true);
    }
    expect(ports.size).toBe(3);
    const tasks = await taskContainers(pool);
    expect(tasks).toHaveLength(3);
    for (const task of tasks) expect(task.Labels['io.enginepool.spec-hash']).toMatch(/^[0-9a-f]{16}$/);

    const engines = await c.engines(pool);
    expect(engines.map((e) => [e.host, e.labels['io.enginepool.node'], e.state])).toEqual(
      Array(3).fill(['127.0.0.1', lab.hostname(0), 'ready']),
    );
    const metrics = (await c.api('/metrics')).text;
    expect(metrics).toContain(`enginepool_node_ready{node="${lab.hostname(0)}"} 1`);
    expect(metrics).toContain(`enginepool_node_engines{pool="${pool}",node="${lab.hostname(0)}"} 3`);

    // An engine's task dies: the service reads exited, is removed, and a new engine takes its place.
    const victim = services[1];
    const [victimTask] = (await taskContainers(pool)).filter(
      (t) => t.Labels['com.docker.swarm.service.id'] === victim.ID,
    );
    await lab.docker().getContainer(victimTask!.Id).kill();
    await waitFor(
      'the dead engine replaced',
      async () => {
        const now = await lab.services(pool);
        return (
          (await c.pool(pool))?.replicas?.ready === 3 &&
          now.length === 3 &&
          now.every((s) => s.ID !== victim.ID)
        );
      },
      { timeoutMs: 60_000 },
    );
  });

  it('rolls a template change over every engine, and a restarted controller adopts the services', async () => {
    const pool = 'swarm-b';
    const c = await lab
      .controller(scope, swarmPool(pool, '26010-26019', '{ minFree: 2, max: 4 }'), 26900)
      .start();
    await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2, {
      timeoutMs: 60_000,
    });
    const first = (await lab.services(pool)).map((s) => s.ID);

    c.edit(swarmPool(pool, '26010-26019', '{ minFree: 2, max: 4 }', 'MODE: "rolled"'));
    await waitFor(
      'every engine made from the new template',
      async () => {
        const services = await lab.services(pool);
        return (
          (await c.pool(pool))?.replicas?.ready === 2 &&
          services.length === 2 &&
          services.every(
            (s) => !first.includes(s.ID) && s.Spec.TaskTemplate.ContainerSpec.Env.includes('MODE=rolled'),
          )
        );
      },
      { timeoutMs: 90_000 },
    );
    const rolled = (await lab.services(pool)).map((s) => s.ID);

    await c.stop('SIGTERM');
    await c.start();
    await waitFor(
      'the restarted controller to see 2 ready engines',
      async () => (await c.pool(pool))?.replicas?.ready === 2,
      {
        timeoutMs: 60_000,
      },
    );
    expect((await lab.services(pool)).map((s) => s.ID)).toEqual(rolled);
    expect(c.logs).not.toMatch(/"action":"(create|remove)"/);
  });

  it('keeps minFree free engines for streams up to max, through the compat API, and gives the node as host', async () => {
    const pool = 'swarm-c';
    const c = await lab
      .controller(
        scope,
        swarmPool(pool, '26020-26029', '{ minFree: 1, max: 3, scaleDownDelaySeconds: 0 }'),
        26901,
        {
          ENGINEPOOL_STREAM_CHECK_SECONDS: '1',
        },
      )
      .start();
    const engines = async (): Promise<any[]> => (await c.api('/engines', { token: c.token })).body;
    await waitFor(
      'one healthy engine',
      async () => (await engines()).some((e) => e.health_status === 'healthy'),
      {
        timeoutMs: 60_000,
      },
    );

    /** Opens a stream on a free engine, as acexy does, and tells the controller. */
    const stream = async (id: string) => {
      const engine = (await engines()).find((e) => e.health_status === 'healthy' && e.streams.length === 0);
      expect(engine.host).toBe(lab.address(0));
      const { event } = await startStream(engine, id);
      const started = await c.api('/events/stream_started', { method: 'POST', token: c.token, body: event });
      expect(started.status).toBe(200);
    };

    await stream('s-1');
    await waitFor('a second engine for minFree', async () => (await c.pool(pool))?.replicas?.ready === 2, {
      timeoutMs: 60_000,
    });
    await stream('s-2');
    await waitFor(
      'a third engine, and no more than max',
      async () => (await c.pool(pool))?.replicas?.ready === 3,
      {
        timeoutMs: 60_000,
      },
    );
    await stream('s-3');
    const capped = await waitFor('the pool capped at max', async () => {
      const status = await c.pool(pool);
      return status?.conditions?.find((x: any) => x.type === 'ScalingLimited' && x.status === 'True')
        ? status
        : undefined;
    });
    expect(capped.replicas.total).toBe(3);
    expect(await lab.services(pool)).toHaveLength(3);

    for (const id of ['s-1', 's-2', 's-3'])
      await c.api('/events/stream_ended', { method: 'POST', token: c.token, body: { stream_id: id } });
    await waitFor('back to one free engine', async () => (await lab.services(pool)).length === 1, {
      timeoutMs: 60_000,
    });
  });

  it('opens the circuit breaker when no node can run the image, and leaves no service behind', async () => {
    const pool = 'swarm-e';
    const yaml = swarmPool(pool, '26060-26069', '{ minFree: 2, max: 4 }')
      .replace('enginepool/stand-in-engine:dev', 'enginepool/absent-engine:dev')
      .concat('  circuitBreaker: { failureThreshold: 2, openSeconds: 600 }\n');
    const c = await lab.controller(scope, yaml, 26901).start();
    const status = await waitFor(
      'the breaker open',
      async () => {
        const s = await c.pool(pool);
        return s?.circuitBreaker?.state === 'open' ? s : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(status.circuitBreaker.lastFailure).toMatch(/ExitedBeforeReady/);
    // No engine is left behind: the rejected services were removed.
    await waitFor('no services left', async () => (await lab.services(pool)).length === 0);
  });

  it('doctor checks the swarm: a manager, ready nodes, where each pool may go, the image on the nodes', async () => {
    // A controller object only for its config file; it is not started.
    const c = lab.controller(scope, swarmPool('swarm-d', '26050-26059', '{ minFree: 1, max: 4 }'), 26901);
    const onSwarm = await cli(['doctor', '--config', c.config], { DOCKER_HOST: lab.dockerHost() });
    expect(onSwarm.stdout).toMatch(/ok\s+swarm: the Docker engine is a Swarm manager/);
    expect(onSwarm.stdout).toMatch(/ok\s+swarm nodes: 1 ready and active/);
    expect(onSwarm.stdout).toContain(`placement swarm-d: 1 node(s) may run its engines: ${lab.hostname(0)}`);
    expect(onSwarm.stdout).toMatch(/image enginepool\/stand-in-engine:dev on the nodes: /);

    // The host's dockerd is no swarm manager: doctor says so and how to fix it.
    const onHost = await cli(['doctor', '--config', c.config], { DOCKER_HOST: '' });
    expect(onHost.code).toBe(1);
    expect(onHost.stdout).toMatch(/FAIL\s+swarm: not a Swarm manager/);
    expect(onHost.stdout).toMatch(/docker swarm init/);
  });
});
