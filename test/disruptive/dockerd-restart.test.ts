import { afterEach, expect, it } from 'vitest';
import { alive, findDockerd, startDockerdAgain } from '../support/dockerd.js';
import { docker, poolContainers, poolYaml, TestScope, waitFor } from '../support/harness.js';

// dockerd stopped and started again under a running controller. It stops every container of that
// daemon, so it runs alone, after the other integration tests (`npm test` orders it). The daemon is
// the one DOCKER_HOST names (run it against a private one with `/work/tools/devns run NAME npx vitest
// run --project disruptive`).

const pool = 'restart-a';
const scope = new TestScope();
afterEach((context) => scope.cleanup(context.task.result?.state === 'fail'));

it('survives dockerd stopping and starting again, and heals the pool', async () => {
  const c = await scope
    .controller(poolYaml(pool, { range: '20900-20909', replicas: '{ minFree: 2, max: 3 }' }), [pool])
    .start();
  await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2);
  const before = (await poolContainers(pool)).map((x) => x.id);

  const dockerd = findDockerd();
  const stoppedAt = Date.now();
  process.kill(dockerd.pid, 'SIGTERM');
  await waitFor('dockerd to exit', () => !alive(dockerd.pid), { timeoutMs: 60_000 });
  const down = await waitFor('/readyz to say Docker is gone', async () => {
    const reply = await c.api('/readyz');
    return reply.status === 503 ? reply : undefined;
  });
  expect(down.body.error.message).toMatch(/Docker/);
  expect((await c.api('/livez')).status).toBe(200);

  startDockerdAgain(dockerd);
  await waitFor('dockerd to answer again', async () => (await docker.ping()) !== undefined, {
    timeoutMs: 60_000,
  });
  const restartedAt = Date.now();
  await waitFor(
    'the pool healed with new engines',
    async () => {
      const status = await c.pool(pool);
      const now = (await poolContainers(pool)).map((x) => x.id);
      return status?.replicas?.ready === 2 && now.length === 2 && now.every((id) => !before.includes(id));
    },
    { timeoutMs: 60_000 },
  );
  const healedAt = Date.now();
  expect((await c.api('/readyz')).status).toBe(200);
  expect(c.logs).toMatch(/Docker answers again/);

  // A container Docker could not remove after the restart (overlay2 busy) never blocks the pool; the
  // pool names it in its Degraded condition until Docker shows it gone.
  const left = await waitFor('every container left behind to be gone or named by the pool', async () => {
    const stopped = (await poolContainers(pool, true)).filter((x) => x.state !== 'running');
    const degraded = (await c.pool(pool)).conditions.find((x: { type: string }) => x.type === 'Degraded');
    const named = stopped.every(
      (x) => degraded.reason === 'RemovalStuck' && degraded.message.includes(x.name),
    );
    return named ? { stopped, degraded } : undefined;
  });
  console.log(
    `dockerd-restart: down ${restartedAt - stoppedAt} ms, healed ${healedAt - restartedAt} ms after dockerd answered; held: ${left.stopped.map((x) => `${x.name} (${x.state})`).join(', ') || 'none'}; Degraded ${left.degraded.reason}`,
  );
});
