import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { cli, poolYaml, TestScope, waitFor } from '../support/harness.js';
import { SwarmLab } from '../support/swarm.js';

// A Swarm pool on a three-node swarm the file makes itself: three private dockerd instances, each in
// its own network namespace, joined over a /24 that exists only inside those namespaces. Engines
// spread over the nodes; one node goes down; its engines come back on the others. Host ports
// 26100-26119 (engines, in the namespaces only), 26910 (controller).

const scope = new TestScope();
let lab: SwarmLab;

beforeAll(async () => {
  lab = await SwarmLab.up('s3', 3, 41);
  await lab.forward([26910]);
}, 120_000);
afterEach((context) => scope.cleanup(context.task.result?.state === 'fail'));
afterAll(async () => {
  await lab?.down();
});

it('spreads engines over the nodes, and replaces the engines of a node that goes down on the others', async () => {
  const pool = 'swarm-n';
  const yaml = poolYaml(pool, {
    range: '26100-26119',
    replicas: '{ minFree: 4, max: 6 }',
    extra: '  runtime: swarm\n  placement:\n    maxPerNode: 2\n',
  });
  const started = Date.now();
  const c = await lab
    // Why no resync in the test's time: only the Swarm events (services, nodes, task states) wake
    // the loop, so the test shows they do.
    .controller(scope, yaml, 26910, { ENGINEPOOL_RESYNC_SECONDS: '600' })
    .start();
  const ready = async (n: number) => {
    const engines = await c.engines(pool);
    return engines.length === n && engines.every((e) => e.state === 'ready') ? engines : undefined;
  };
  const engines = await waitFor('4 ready engines', () => ready(4), { timeoutMs: 60_000 });
  const converged = Date.now() - started;
  const firstCreate = Date.parse(String(c.logLines().find((l) => l.action === 'create')?.time));
  const fromFirstCreate = Date.now() - firstCreate;

  const perNode = (list: any[]) => {
    const counts = new Map<string, number>();
    for (const e of list)
      counts.set(e.labels['io.enginepool.node'], (counts.get(e.labels['io.enginepool.node']) ?? 0) + 1);
    return counts;
  };
  // Spread: 4 engines on 3 nodes, no node with more than 2; each engine at its node's address.
  const spread = perNode(engines);
  expect(spread.size).toBe(3);
  expect(Math.max(...spread.values())).toBe(2);
  for (const e of engines) {
    const node = Number(e.labels['io.enginepool.node'].split('-').at(-1));
    expect(e.host).toBe(lab.address(node));
  }

  // The node with one engine goes down (not the manager, node 0).
  const down = [1, 2].find((n) => spread.get(lab.hostname(n)) === 1) ?? 1;
  const lost = engines
    .filter((e) => e.labels['io.enginepool.node'] === lab.hostname(down))
    .map((e) => e.containerId);
  const stoppedAt = Date.now();
  await lab.stop(down);
  const healed = await waitFor(
    'minFree restored on the nodes still up',
    async () => {
      const now = await ready(4);
      return now?.every((e) => e.labels['io.enginepool.node'] !== lab.hostname(down)) ? now : undefined;
    },
    { timeoutMs: 90_000 },
  );
  const recovered = Date.now() - stoppedAt;
  expect(lost).toHaveLength(1);
  expect(healed.map((e) => e.containerId)).not.toContain(lost[0]);
  expect(healed.map((e) => e.name).sort()).toEqual([`${pool}-1`, `${pool}-2`, `${pool}-3`, `${pool}-4`]);
  expect(Math.max(...perNode(healed).values())).toBe(2);
  const status = await cli(['status', '--url', c.url]);
  expect(status.stdout).toMatch(/^ {2}nodes ep-s3-\d 2, ep-s3-\d 2$/m);
  const metrics = (await c.api('/metrics')).text;
  expect(metrics).toContain(`enginepool_node_ready{node="${lab.hostname(down)}"} 0`);
  console.log(
    `swarm of 3 nodes: 4 engines ready ${converged} ms after the controller started (${fromFirstCreate} ms after its first create); node down to minFree restored in ${recovered} ms`,
  );
});
