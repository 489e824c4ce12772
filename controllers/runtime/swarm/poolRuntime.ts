import { LABELS } from '../../../state/labels.js';
import type { DockerContainerSummary } from '../../../state/observed.js';
import { type DesiredSpec, usesSwarm } from '../../../state/spec/index.js';
import { createDockerRuntime } from '../docker/dockerRuntime.js';
import { type Runtime, type RuntimeCallObserver, RuntimeError, type RuntimeEvent } from '../runtime.js';
import { createSwarmRuntime, type SwarmRuntime, type SwarmSnapshot } from './swarmRuntime.js';

// One Runtime for a file whose pools use both runtimes: Docker's containers plus the Swarm engines
// mapped into container shapes, so the observer, reconcilers and executor stay as they are. Creates go
// by the pool's runtime; everything else by whether the id or name is a Swarm engine's.

/** Options of {@link createPoolRuntime}. */
export interface PoolRuntimeOptions {
  readonly docker: Runtime;
  readonly swarm: SwarmRuntime;
  /** The runtime of a pool in the spec (undefined: not in the spec). */
  readonly runtimeOf: (pool: string) => 'docker' | 'swarm' | undefined;
  /** True while some pool of the spec runs on Swarm. */
  readonly swarmWanted: () => boolean;
  /** Each Swarm observation, for metrics per node. */
  readonly onSnapshot?: (snapshot: SwarmSnapshot) => void;
}

/** The Runtime of a spec's pools over one DOCKER_HOST (a Swarm manager when a pool runs on Swarm). */
export function createSpecRuntime(options: {
  readonly dockerHost: string | undefined;
  readonly spec: () => DesiredSpec | undefined;
  readonly observe?: RuntimeCallObserver;
  readonly onSnapshot?: (snapshot: SwarmSnapshot) => void;
}): Runtime {
  const { dockerHost, observe } = options;
  const poolOf = (name: string) => options.spec()?.pools.find((p) => p.name === name);
  return createPoolRuntime({
    docker: createDockerRuntime({ dockerHost, ...(observe ? { observe } : {}) }),
    swarm: createSwarmRuntime({
      dockerHost,
      ...(observe ? { observe } : {}),
      placementOf: (name) => poolOf(name)?.placement,
    }),
    runtimeOf: (name) => poolOf(name)?.runtime,
    swarmWanted: () => usesSwarm(options.spec()),
    ...(options.onSnapshot ? { onSnapshot: options.onSnapshot } : {}),
  });
}

/** Docker's label on the containers of Swarm tasks. */
const TASK_LABEL = 'com.docker.swarm.service.id';

/** The Runtime over Docker and Swarm together. */
export function createPoolRuntime(options: PoolRuntimeOptions): Runtime {
  const { docker, swarm } = options;
  /** Ids and names of the Swarm engines of the last observation and of creates since. */
  const swarmKeys = new Set<string>();
  /** Services were seen last time: keep looking, so engines of a pool edited out are still removed. */
  let servicesSeen = false;
  const isSwarm = (idOrName: string) => swarmKeys.has(idOrName.replace(/^\//, ''));

  async function listContainers(): Promise<DockerContainerSummary[]> {
    const wanted = options.swarmWanted() || servicesSeen;
    const [containers, snapshot] = await Promise.all([
      docker.listContainers(),
      wanted ? swarm.snapshot().catch(explainSwarm) : undefined,
    ]);
    if (!snapshot) return containers;
    options.onSnapshot?.(snapshot);
    servicesSeen = snapshot.engines.length > 0;
    swarmKeys.clear();
    for (const { summary } of snapshot.engines) {
      swarmKeys.add(summary.Id);
      swarmKeys.add(summary.Names?.[0]?.replace(/^\//, '') ?? '');
    }
    // Why: a task's container carries the engine's labels; the engine is its service, counted once.
    const plain = containers.filter((c) => !c.Labels?.[TASK_LABEL]);
    return [...plain, ...snapshot.engines.map((e) => e.summary)];
  }

  return {
    ...docker,
    listContainers,
    inspectContainer: async (idOrName) =>
      isSwarm(idOrName) ? (await swarm.inspect(idOrName))?.details : await docker.inspectContainer(idOrName),
    createContainer: async (body) => {
      if (options.runtimeOf(body.Labels[LABELS.pool] ?? '') !== 'swarm')
        return await docker.createContainer(body);
      const id = await swarm.create(body);
      swarmKeys.add(id);
      swarmKeys.add(body.name);
      return id;
    },
    // Why: a service starts its task when it is created; there is nothing to start.
    startContainer: async (id) => (isSwarm(id) ? undefined : await docker.startContainer(id)),
    restartContainer: async (id, timeoutSeconds) =>
      isSwarm(id) ? await swarm.restart(id) : await docker.restartContainer(id, timeoutSeconds),
    removeContainer: async (id) => (isSwarm(id) ? await swarm.remove(id) : await docker.removeContainer(id)),
    events: async ({ since, signal }) => {
      // Why its own signal: when one stream ends the follower redials both, so the other must close.
      const both = new AbortController();
      const abort = () => both.abort();
      signal.addEventListener('abort', abort, { once: true });
      const close = () => {
        both.abort();
        signal.removeEventListener('abort', abort);
      };
      try {
        const containers = await docker.events({
          ...(since !== undefined ? { since } : {}),
          signal: both.signal,
        });
        const swarmEvents = await swarm.events(both.signal, () => options.swarmWanted() || servicesSeen);
        return merge([containers, swarmEvents], close);
      } catch (error) {
        close();
        throw error;
      }
    },
  };
}

/** A daemon that is no Swarm manager, said so that the reader knows what to change. */
function explainSwarm(error: unknown): never {
  if (error instanceof RuntimeError && /not a swarm manager/i.test(error.message)) {
    throw new RuntimeError(
      error.kind,
      error.op,
      `a pool has runtime: swarm, but ${error.message}: point DOCKER_HOST at a Swarm manager (enginepool doctor checks it)`,
      error.statusCode,
    );
  }
  throw error;
}

/** Events of several streams as one; it ends when any ends (the follower then redials all), then `close`s them. */
async function* merge(
  streams: readonly AsyncIterable<RuntimeEvent>[],
  close: () => void,
): AsyncIterable<RuntimeEvent> {
  const iterators = streams.map((s) => s[Symbol.asyncIterator]());
  const next = iterators.map((it, i) => it.next().then((result) => ({ result, i })));
  try {
    for (;;) {
      const { result, i } = await Promise.race(next);
      if (result.done) return;
      next[i] = iterators[i]!.next().then((r) => ({ result: r, i }));
      yield result.value;
    }
  } finally {
    close();
    for (const it of iterators) void it.return?.();
  }
}
