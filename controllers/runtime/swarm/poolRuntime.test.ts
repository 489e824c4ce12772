import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { LABELS } from '../../../state/labels.js';
import type { CreateContainerBody } from '../../../state/template.js';
import { MemoryRuntime } from '../../../test/support/memoryRuntime.js';
import { RuntimeError } from '../runtime.js';
import { createPoolRuntime } from './poolRuntime.js';
import { type SwarmService, toEngineView, toServiceSpec } from './swarmObjects.js';
import type { SwarmRuntime } from './swarmRuntime.js';

// The one Runtime over Docker and Swarm: which side each call goes to. The Docker side is the memory
// runtime; the Swarm side keeps services in a map (what the manager would answer, without tasks).

function body(
  name: string,
  pool: string,
  port: number,
  extra: Record<string, string> = {},
): CreateContainerBody {
  return {
    name,
    Image: 'engine:1',
    Labels: { [LABELS.pool]: pool, ...extra },
    HostConfig: {
      PortBindings: { [`${port}/tcp`]: [{ HostPort: String(port) }] },
      RestartPolicy: { Name: 'no' },
    },
  };
}

function memorySwarm() {
  const services = new Map<string, SwarmService>();
  const calls: string[] = [];
  const swarm: SwarmRuntime = {
    snapshot: async () => {
      calls.push('snapshot');
      return { engines: [...services.values()].map((s) => toEngineView(s, [], new Map())), nodes: [] };
    },
    inspect: async (idOrName) => {
      const service = services.get(idOrName) ?? [...services.values()].find((s) => s.Spec.Name === idOrName);
      return service && toEngineView(service, [], new Map());
    },
    create: async (b) => {
      const id = `svc-${services.size + 1}`;
      services.set(id, { ID: id, Spec: toServiceSpec(b, [], 'node-1') });
      calls.push(`create ${b.name}`);
      return id;
    },
    restart: async (id) => void calls.push(`restart ${id}`),
    remove: async (id) => {
      services.delete(id);
      calls.push(`remove ${id}`);
    },
    nodes: async () => [],
    inspectSwarm: async () => ({}),
    events: async () => ({ async *[Symbol.asyncIterator]() {} }),
  };
  return { swarm, calls };
}

function setup(swarmPools: string[]) {
  const docker = new MemoryRuntime(new SimulatedClock());
  docker.addImage('engine:1');
  const { swarm, calls } = memorySwarm();
  const runtime = createPoolRuntime({
    docker,
    swarm,
    runtimeOf: (pool) => (swarmPools.includes(pool) ? 'swarm' : 'docker'),
    swarmWanted: () => swarmPools.length > 0,
  });
  return { docker, calls, runtime };
}

describe('createPoolRuntime', () => {
  it('asks Swarm nothing while no pool runs on it', async () => {
    const { docker, calls, runtime } = setup([]);
    await docker.run(body('plain-1', 'plain', 26000));
    expect((await runtime.listContainers()).map((c) => c.Names?.[0])).toEqual(['/plain-1']);
    expect(calls).toEqual([]);
  });

  it('creates by the pool runtime, lists services as containers and drops their task containers', async () => {
    const { docker, calls, runtime } = setup(['edge']);
    const plainId = await runtime.createContainer(body('plain-1', 'plain', 26000));
    await runtime.startContainer(plainId);
    const serviceId = await runtime.createContainer(body('edge-1', 'edge', 26001));
    await runtime.startContainer(serviceId);
    // The task's container on this node carries the engine's labels and Swarm's own.
    await docker.run(body('edge-1.1.abc', 'edge', 26001, { 'com.docker.swarm.service.id': serviceId }));

    const listed = await runtime.listContainers();
    expect(listed.map((c) => [c.Id === serviceId ? 'service' : 'container', c.Names?.[0]])).toEqual([
      ['container', '/plain-1'],
      ['service', '/edge-1'],
    ]);
    expect(calls).toEqual(['create edge-1', 'snapshot']);
    expect((await runtime.inspectContainer('edge-1'))?.Id).toBe(serviceId);

    await runtime.removeContainer(serviceId);
    await runtime.removeContainer(plainId);
    expect(calls.at(-1)).toBe(`remove ${serviceId}`);
    expect(docker.find('plain-1')).toBeUndefined();
  });

  it('names the fix when the daemon is no Swarm manager', async () => {
    const { swarm } = memorySwarm();
    const runtime = createPoolRuntime({
      docker: new MemoryRuntime(new SimulatedClock()),
      swarm: {
        ...swarm,
        snapshot: async () => {
          throw new RuntimeError('server', 'service_list', 'This node is not a swarm manager.', 503);
        },
      },
      runtimeOf: () => 'swarm',
      swarmWanted: () => true,
    });
    await expect(runtime.listContainers()).rejects.toThrow(
      /runtime: swarm, .*point DOCKER_HOST at a Swarm manager/,
    );
  });
});
