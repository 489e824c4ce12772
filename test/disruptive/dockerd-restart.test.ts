import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { poolContainers, poolYaml, TestScope, waitFor } from '../support/harness.js';

// dockerd stopped and started again under a running controller. It stops every container on the
// machine, so it runs alone, after the other integration tests (`npm test` orders it).

const ROOT = resolve(import.meta.dirname, '..', '..');
const pool = 'restart-a';
const scope = new TestScope();
afterEach((context) => scope.cleanup(context.task.result?.state === 'fail'));

function dockerdPid(): number {
  return Number(execFileSync('pidof', ['dockerd']).toString().trim().split(' ')[0]);
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

it('survives dockerd stopping and starting again, and heals the pool', async () => {
  const c = await scope
    .controller(poolYaml(pool, { range: '20900-20909', replicas: '{ minFree: 2, max: 3 }' }), [pool])
    .start();
  await waitFor('2 ready engines', async () => (await c.pool(pool))?.replicas?.ready === 2);
  const before = (await poolContainers(pool)).map((x) => x.id);

  const pid = dockerdPid();
  process.kill(pid, 'SIGTERM');
  await waitFor('dockerd to exit', () => !alive(pid), { timeoutMs: 60_000 });
  const down = await waitFor('/readyz to say Docker is gone', async () => {
    const reply = await c.api('/readyz');
    return reply.status === 503 ? reply : undefined;
  });
  expect(down.body.error.message).toMatch(/Docker/);
  expect((await c.api('/livez')).status).toBe(200);

  execFileSync('bash', [resolve(ROOT, 'scripts/ensure-docker.sh')], { stdio: 'inherit' });
  await waitFor(
    'the pool healed with new engines',
    async () => {
      const status = await c.pool(pool);
      const now = (await poolContainers(pool)).map((x) => x.id);
      return status?.replicas?.ready === 2 && now.length === 2 && now.every((id) => !before.includes(id));
    },
    { timeoutMs: 90_000 },
  );
  expect((await c.api('/readyz')).status).toBe(200);
  expect(c.logs).toMatch(/Docker answers again/);
});
