import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  answers,
  type ControllerProcess,
  cli,
  docker,
  ENGINE_IMAGE,
  poolContainers,
  poolYaml,
  removeContainers,
  TestScope,
  waitFor,
} from '../support/harness.js';

// The reconciling core against a real Docker engine, checked the way a user would: the real
// `./bin/enginepool`, real containers, the file edited by hand. Host ports 20000-20999.

const scope = new TestScope();
afterEach((context) => scope.cleanup(context.task.result?.state === 'fail'));

function controller(yaml: string, env: Record<string, string> = {}) {
  return scope.controller(yaml, [], env);
}

/** Counter value of reconcile passes (all results) from /metrics, to wait for "more passes happened". */
async function passes(c: ControllerProcess, pool: string): Promise<number> {
  const { text } = await c.api('/metrics');
  return text
    .split('\n')
    .filter((line) => line.startsWith(`enginepool_reconcile_total{pool="${pool}"`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

async function runningNames(pool: string): Promise<string[]> {
  return (await poolContainers(pool)).map((c) => c.name);
}

describe('converging from an empty Docker', () => {
  it('runs exactly minFree engines named <pool>-1..N on distinct ports in range, each answering, and stays there', async () => {
    const pool = 'core-a';
    scope.pool(pool);
    const c = await controller(
      poolYaml(pool, { range: '20000-20019', replicas: '{ minFree: 3, max: 6 }' }),
    ).start();
    await waitFor('3 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 3);
    const containers = await poolContainers(pool);
    expect(containers.map((x) => x.name)).toEqual([`${pool}-1`, `${pool}-2`, `${pool}-3`]);
    const ports = containers.map((x) => Number(x.labels['io.enginepool.host-port']));
    expect(new Set(ports).size).toBe(3);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20000);
      expect(port).toBeLessThanOrEqual(20019);
      expect(await answers(port)).toBe(true);
    }
    for (const container of containers) {
      const details = await docker.getContainer(container.id).inspect();
      expect(details.HostConfig.RestartPolicy?.Name ?? 'no').toBe('no');
      expect(details.Config.Labels['io.enginepool.spec-hash']).toMatch(/^[0-9a-f]{16}$/);
      // A controller on the Docker host exposes nothing beyond the loopback by default. (Podman also
      // lists the image's exposed ports, unbound: null.)
      const bindings = Object.values(details.HostConfig.PortBindings ?? {})
        .flat()
        .filter((binding) => binding !== null);
      expect(bindings).toEqual([expect.objectContaining({ HostIp: '127.0.0.1' })]);
    }
    const before = await passes(c, pool);
    await waitFor('three more reconcile passes', async () => (await passes(c, pool)) >= before + 3, {
      timeoutMs: 40_000,
    });
    expect((await poolContainers(pool)).map((x) => x.id)).toEqual(containers.map((x) => x.id));
    const status = await c.pool(pool);
    expect(status.conditions.find((x: any) => x.type === 'Ready')).toMatchObject({ status: 'True' });
    expect(status.observedGeneration).toBe(status.generation);
  });
});

describe('streams drive the pool size', () => {
  it('grows to keep minFree free, shrinks only after the delay, reuses freed ports, and caps at max without tripping anything', async () => {
    const pool = 'core-b';
    scope.pool(pool);
    const c = await controller(
      poolYaml(pool, { range: '20100-20119', replicas: '{ minFree: 1, max: 3, scaleDownDelaySeconds: 4 }' }),
    ).start();
    await waitFor('1 ready engine', async () => (await c.pool(pool))?.replicas?.ready === 1);
    const start = async (engine: string, id: string) =>
      (
        await c.api(`/api/v1/pools/${pool}/engines/${engine}/streams`, {
          method: 'POST',
          token: c.token,
          body: { id },
        })
      ).status;
    expect(await start(`${pool}-1`, 's1')).toBe(201);
    expect(await start(`${pool}-1`, 's1')).toBe(200);
    await waitFor('a second engine', async () => (await c.pool(pool))?.replicas?.ready === 2);
    expect(await start(`${pool}-2`, 's2')).toBe(201);
    await waitFor('a third engine', async () => (await c.pool(pool))?.replicas?.ready === 3);
    expect(await start(`${pool}-3`, 's3')).toBe(201);
    // Every engine is used and max is 3: the pool says so, and nothing counts as a failure.
    const capped = await waitFor('MaxReached', async () => {
      const status = await c.pool(pool);
      return status.conditions.some((x: any) => x.reason === 'MaxReached') && status;
    });
    expect(capped.replicas.total).toBe(3);
    expect(capped.circuitBreaker).toMatchObject({ state: 'closed', failures: 0 });
    const portsBefore = (await poolContainers(pool)).map((x) => x.labels['io.enginepool.host-port']).sort();

    for (const [engine, id] of [
      [`${pool}-2`, 's2'],
      [`${pool}-3`, 's3'],
    ]) {
      const reply = await c.api(`/api/v1/pools/${pool}/engines/${engine}/streams/${id}`, {
        method: 'DELETE',
        token: c.token,
      });
      expect(reply.body).toEqual({ ended: true });
    }
    // Why: a status is as of its pass, before that pass acts. One that counts the ended streams (one
    // engine used), still three engines, and says it scales down is a pass that saw the pool free and
    // waited for the delay instead of removing at once.
    await waitFor('a pass that sees the streams ended and waits for the delay', async () => {
      const status = await c.pool(pool);
      const progressing = status.conditions.find((x: any) => x.type === 'Progressing');
      return (
        status.replicas.used === 1 && status.replicas.total === 3 && progressing.reason === 'ScalingDown'
      );
    });
    await waitFor('the pool to shrink to 2', async () => (await runningNames(pool)).length === 2, {
      timeoutMs: 20_000,
    });
    expect(await runningNames(pool)).toEqual([`${pool}-1`, `${pool}-2`]);
    // The controller's own account of the removal (logged once Docker answered): free for at least
    // scaleDownDelaySeconds.
    const shrunk = await waitFor('the scale-down logged', () => {
      const lines = c
        .logLines()
        .filter((line) => line.action === 'remove' && String(line.reason).startsWith('scale down'));
      return lines.length > 0 ? lines : undefined;
    });
    expect(shrunk.map((line) => line.engine)).toEqual([`${pool}-3`]);
    for (const line of shrunk)
      expect(Number(/free for (\d+)s/.exec(String(line.reason))?.[1])).toBeGreaterThanOrEqual(4);

    expect(await start(`${pool}-2`, 's4')).toBe(201);
    // Why: a status is as of the last pass; three running containers and three ready engines together
    // are the state after the regrowth, not a status from before the shrink.
    await waitFor(
      'a third engine again',
      async () => (await runningNames(pool)).length === 3 && (await c.pool(pool))?.replicas?.ready === 3,
    );
    const portsAfter = (await poolContainers(pool)).map((x) => x.labels['io.enginepool.host-port']).sort();
    expect(portsAfter).toEqual(portsBefore);
    expect(c.logs).not.toMatch(/"level":"(error|fatal)"/);
  });
});

describe('stepping around what is not ours', () => {
  const foreign = ['core-c-1', 'core-foreign-web'];
  let hostProcess: Server | undefined;
  afterAll(async () => {
    await removeContainers({ names: foreign });
    hostProcess?.close();
  });

  it('skips a stopped foreign container holding <pool>-1, a foreign published port and a host process, and never touches them', async () => {
    const pool = 'core-c';
    scope.pool(pool);
    await removeContainers({ names: foreign });
    const holder = await docker.createContainer({
      name: 'core-c-1',
      Image: ENGINE_IMAGE,
      Cmd: ['--http-port=6878'],
    });
    const web = await docker.createContainer({
      name: 'core-foreign-web',
      Image: ENGINE_IMAGE,
      Cmd: ['--http-port=80'],
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '20200' }] } },
    });
    await web.start();
    hostProcess = createServer();
    await new Promise<void>((resolve) => hostProcess!.listen(20201, '0.0.0.0', resolve));

    const c = await controller(
      poolYaml(pool, { range: '20200-20209', replicas: '{ minFree: 2, max: 4 }' }),
    ).start();
    await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2, {
      timeoutMs: 40_000,
    });
    const containers = await poolContainers(pool);
    expect(containers.map((x) => x.name)).toEqual([`${pool}-2`, `${pool}-3`]);
    const ports = containers.map((x) => Number(x.labels['io.enginepool.host-port']));
    expect(ports).not.toContain(20200);
    expect(ports).not.toContain(20201);
    expect((await holder.inspect()).State.Status).toBe('created');
    expect((await web.inspect()).State.Running).toBe(true);

    // A removed engine comes back under the lowest free name.
    await docker.getContainer(`${pool}-2`).remove({ force: true });
    await waitFor('pool-2 back', async () => {
      const names = await runningNames(pool);
      return names.length === 2 && names.includes(`${pool}-2`);
    });
  });
});

describe('restarts and edits', () => {
  it('adopts the same containers after kill -9, and applies good edits while refusing broken ones', async () => {
    const pool = 'core-d';
    scope.pool(pool);
    const yaml = (minFree: number | string) =>
      poolYaml(pool, {
        range: '20300-20319',
        replicas: `{ minFree: ${minFree}, max: 5, scaleDownDelaySeconds: 1 }`,
      });
    const c = await controller(yaml(2)).start();
    await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2);
    const ids = (await poolContainers(pool)).map((x) => x.id);

    expect(await c.stop('SIGKILL')).toBe(null);
    await c.start();
    await waitFor(
      '2 ready engines after the restart',
      async () => (await c.pool(pool))?.replicas?.ready === 2,
    );
    expect((await poolContainers(pool)).map((x) => x.id)).toEqual(ids);
    expect(c.logs).not.toMatch(/"action":"(create|remove)"/);

    c.edit(yaml(3));
    await waitFor('a third engine after the edit', async () => (await runningNames(pool)).length === 3, {
      timeoutMs: 10_000,
    });

    c.edit(yaml('"three"').replace('kind: EnginePool', 'kind: EnginePool\nbogus: 1'));
    await waitFor('the broken edit to be reported', async () =>
      c.logs.includes('the desired-state file is invalid'),
    );
    expect(c.logs).toMatch(/unknown key \\"bogus\\"/);
    const { text } = await c.api('/metrics');
    expect(text).toMatch(/enginepool_config_last_reload_successful 0/);
    expect((await c.api('/readyz')).status).toBe(200);
    expect(await runningNames(pool)).toHaveLength(3);

    // A one-character typo (an alias without its anchor) once killed the process from inside the parser.
    c.edit(`${yaml(1)}\nextra: *nope\n`);
    await waitFor('the alias typo to be reported', async () => c.logs.includes('Unresolved alias'));
    expect((await c.api('/livez')).status).toBe(200);
    expect(await runningNames(pool)).toHaveLength(3);

    c.edit(yaml(1));
    await waitFor(
      'the pool to shrink to 1 after the next good edit',
      async () => (await runningNames(pool)).length === 1,
      {
        timeoutMs: 15_000,
      },
    );
    expect(await c.stop('SIGTERM')).toBe(0);
    expect(await runningNames(pool)).toEqual([`${pool}-1`]);
  });
});

describe('validate and plan', () => {
  it('exit codes and messages follow the contract', async () => {
    const pool = 'core-e';
    scope.pool(pool);
    const c = controller(poolYaml(pool, { range: '20400-20409', replicas: '{ minFree: 2, max: 3 }' }));
    const valid = await cli(['validate', c.config]);
    expect(valid).toMatchObject({ code: 0 });
    expect(valid.stdout).toContain('valid (1 pool: core-e)');

    c.edit(c.readConfig().replace('max: 3', 'max: 3, maxx: 4'));
    const invalid = await cli(['validate', c.config]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(
      /pools\.yaml:\d+:\d+: spec\.replicas\.maxx: unknown key "maxx" \(did you mean "max"\?\)/,
    );

    c.edit(`${c.readConfig()}\nextra: *nope\n`);
    const aliasTypo = await cli(['validate', c.config]);
    expect(aliasTypo.code).toBe(1);
    expect(aliasTypo.stderr).toMatch(/pools\.yaml:\d+:\d+: invalid YAML: Unresolved alias/);

    c.edit(poolYaml(pool, { range: '20400-20409', replicas: '{ minFree: 2, max: 3 }' }));
    const planned = await cli(['plan', '--config', c.config]);
    expect(planned.code).toBe(1);
    expect(planned.stdout).toContain(`create ${pool}-1 on port 20400`);
    expect(planned.stdout).toContain(`create ${pool}-2 on port 20401`);
    expect(await poolContainers(pool, true)).toEqual([]);

    const asJson = await cli(['plan', '--config', c.config, '-o', 'json']);
    expect(asJson.code).toBe(1);
    const machine = JSON.parse(asJson.stdout) as {
      pools: { name: string; desired: number }[];
      actions: { kind: string; name: string }[];
    };
    expect(machine.pools).toEqual([expect.objectContaining({ name: pool, desired: 2 })]);
    expect(machine.actions.map((a) => `${a.kind} ${a.name}`)).toEqual([
      `create ${pool}-1`,
      `create ${pool}-2`,
    ]);

    const checked = await cli(['doctor', '--config', c.config, '-o', 'json']);
    const findings = JSON.parse(checked.stdout) as { severity: string; check: string }[];
    expect(findings.some((f) => f.check === 'docker' && f.severity === 'ok')).toBe(true);
    expect(checked.code).toBe(findings.some((f) => f.severity === 'fail') ? 1 : 0);

    const broken = await cli(['plan', '--config', c.config], {
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/cannot observe Docker/);
  });
});

describe('Docker unreachable', () => {
  it('answers 503 on /readyz with the reason and keeps running', async () => {
    const c = await controller(
      poolYaml('core-f', { range: '20500-20509', replicas: '{ minFree: 1, max: 2 }' }),
      {
        DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      },
    ).start();
    const ready = await waitFor('a 503 from /readyz', async () => {
      const reply = await c.api('/readyz');
      return reply.status === 503 && reply.body.error.message.includes('Docker') && reply;
    });
    expect(ready.body.error.message).toMatch(/not reachable/);
    expect((await c.api('/livez')).status).toBe(200);
    await waitFor(
      'a retry with backoff in the log',
      async () => (c.logs.match(/reconcile pass failed; retrying/g) ?? []).length >= 2,
    );
  });
});
