import { chooseNode, noNodeReason, type Placement } from '../../../reconcilers/placement.js';
import { LABELS } from '../../../state/labels.js';
import type { CreateContainerBody } from '../../../state/template.js';
import { observedCall, orUndefined } from '../docker/dockerRuntime.js';
import {
  createEngineApi,
  type EngineApi,
  engineApiAddress,
  jsonLines,
  type Query,
  segment,
} from '../engineApi.js';
import { type RuntimeCallObserver, RuntimeError, type RuntimeEvent } from '../runtime.js';
import {
  type EngineView,
  pinnedNode,
  type SwarmNode,
  type SwarmService,
  type SwarmTask,
  toEngineView,
  toPlacementNode,
  toServiceSpec,
} from './swarmObjects.js';

// Engines as Swarm services, through the Swarm manager's Engine API: one one-replica service per
// engine, observed from services, their tasks and the nodes. It decides nothing but where a new
// engine goes (reconcilers/placement.ts), which needs what Swarm knows of the nodes at that moment.

/** Options of {@link createSwarmRuntime}. */
export interface SwarmRuntimeOptions {
  /** The manager's `DOCKER_HOST` (the same daemon as the Docker runtime's). */
  readonly dockerHost?: string;
  readonly timeoutMs?: number;
  readonly observe?: RuntimeCallObserver;
  /** The placement of a pool (spec.placement), undefined for a pool no longer in the spec. */
  readonly placementOf: (pool: string) => Placement | undefined;
  /** How often task states are compared, to wake the loop (Docker has no task events). */
  readonly taskPollMs?: number;
}

/** One look at the swarm: the engine services, mapped, and the nodes. */
export interface SwarmSnapshot {
  readonly engines: readonly EngineView[];
  readonly nodes: readonly SwarmNode[];
}

/** The Swarm side of the pools: what the composite runtime asks of services. */
export interface SwarmRuntime {
  snapshot(): Promise<SwarmSnapshot>;
  /** The engine service by id or name, undefined when there is none. */
  inspect(idOrName: string): Promise<EngineView | undefined>;
  /** Creates the engine's service on the node placement chooses; answers the service id. */
  create(body: CreateContainerBody): Promise<string>;
  /** Replaces the service's task on the same node (a forced update). */
  restart(serviceId: string): Promise<void>;
  remove(serviceId: string): Promise<void>;
  nodes(): Promise<SwarmNode[]>;
  /** The manager's view of the swarm (`GET /swarm`); throws when the daemon is not a manager. */
  inspectSwarm(): Promise<{ ID?: string }>;
  /**
   * Service and node events, and a synthetic one whenever an engine task changes state; tasks are
   * polled only while `active()` (some pool runs on Swarm).
   */
  events(signal: AbortSignal, active: () => boolean): Promise<AsyncIterable<RuntimeEvent>>;
}

const POOL_FILTER = { label: [LABELS.pool] };

/** The Swarm runtime over the manager's Engine API. */
export function createSwarmRuntime(options: SwarmRuntimeOptions): SwarmRuntime {
  const api = createEngineApi(engineApiAddress(options.dockerHost), options.timeoutMs ?? 30_000);
  const service = (id: string) => `/services/${segment(id)}`;
  const call = observedCall(options.observe);
  /** Creates run one at a time, so each placement sees the engines the previous one placed. */
  let creating: Promise<unknown> = Promise.resolve();

  const listServices = () =>
    call('service_list', () =>
      api.request<SwarmService[]>('GET', '/services', { query: { filters: POOL_FILTER } }),
    );
  const listTasks = (query?: Query) =>
    call('task_list', () => api.request<SwarmTask[]>('GET', '/tasks', query ? { query } : {}));
  const listNodes = () => call('node_list', () => api.request<SwarmNode[]>('GET', '/nodes'));

  async function snapshot(): Promise<SwarmSnapshot> {
    const [services, tasks, nodes] = await Promise.all([listServices(), listTasks(), listNodes()]);
    const byService = new Map<string, SwarmTask[]>();
    for (const task of tasks) {
      const list = byService.get(task.ServiceID);
      if (list) list.push(task);
      else byService.set(task.ServiceID, [task]);
    }
    const nodeMap = new Map(nodes.map((n) => [n.ID, n]));
    return {
      engines: services.map((s) => toEngineView(s, byService.get(s.ID) ?? [], nodeMap)),
      nodes,
    };
  }

  async function place(body: CreateContainerBody): Promise<string> {
    const pool = body.Labels[LABELS.pool] ?? '';
    const placement = options.placementOf(pool) ?? { constraints: [] };
    const [services, nodes] = await Promise.all([listServices(), listNodes()]);
    const ofPool = new Map<string, number>();
    const all = new Map<string, number>();
    for (const service of services) {
      const node = pinnedNode(service);
      if (!node) continue;
      all.set(node, (all.get(node) ?? 0) + 1);
      if (service.Spec.Labels?.[LABELS.pool] === pool) ofPool.set(node, (ofPool.get(node) ?? 0) + 1);
    }
    const placementNodes = nodes.map(toPlacementNode);
    const node = chooseNode(placementNodes, placement, ofPool, all);
    if (!node) {
      throw new RuntimeError(
        'conflict',
        'service_create',
        `${body.name}: ${noNodeReason(placementNodes, placement)}`,
      );
    }
    const spec = toServiceSpec(body, placement.constraints, node.id);
    return await call(
      'service_create',
      async () => (await api.request<{ ID: string }>('POST', '/services/create', { body: spec })).ID,
    );
  }

  const inspectService = (id: string) => api.request<SwarmService>('GET', service(id));

  async function inspect(idOrName: string): Promise<EngineView | undefined> {
    const found = await orUndefined(call('service_inspect', () => inspectService(idOrName)));
    if (!found?.Spec.Labels?.[LABELS.pool]) return undefined;
    const [tasks, nodes] = await Promise.all([listTasks({ filters: { service: [found.ID] } }), listNodes()]);
    return toEngineView(found, tasks, new Map(nodes.map((n) => [n.ID, n])));
  }

  return {
    snapshot,
    inspect,
    create: (body) => {
      const result = creating.then(() => place(body));
      creating = result.catch(() => undefined);
      return result;
    },
    restart: (serviceId) =>
      call('service_update', async () => {
        const current = await inspectService(serviceId);
        const spec = {
          ...current.Spec,
          TaskTemplate: {
            ...current.Spec.TaskTemplate,
            ForceUpdate: (current.Spec.TaskTemplate.ForceUpdate ?? 0) + 1,
          },
        };
        await api.request('POST', `${service(serviceId)}/update`, {
          query: { version: current.Version?.Index },
          body: spec,
        });
      }),
    remove: async (serviceId) => {
      await orUndefined(
        call('service_remove', async () => void (await api.request('DELETE', service(serviceId)))),
      );
    },
    nodes: listNodes,
    inspectSwarm: () => call('swarm_inspect', () => api.request<{ ID?: string }>('GET', '/swarm')),
    events: (signal, active) =>
      swarmEvents(api, () => (active() ? snapshot() : undefined), options.taskPollMs ?? 1_000, signal),
  };
}

/**
 * Service and node events from the daemon, plus a poll of the engines' states, as container events
 * of the seam (Docker sends no task events; a task on another node changes without a word).
 */
async function swarmEvents(
  api: EngineApi,
  snapshot: () => Promise<SwarmSnapshot> | undefined,
  pollMs: number,
  signal: AbortSignal,
): Promise<AsyncIterable<RuntimeEvent>> {
  const stream = await api.stream('GET', '/events', {
    query: { filters: { type: ['service', 'node'] } },
    signal,
  });
  signal.addEventListener('abort', () => stream.destroy(), { once: true });
  const queue: RuntimeEvent[] = [];
  let notify: (() => void) | undefined;
  let ended = false;
  const push = (event: RuntimeEvent) => {
    queue.push(event);
    notify?.();
  };
  void (async () => {
    try {
      for await (const event of jsonLines<RuntimeEvent>(stream)) push(translate(event));
    } catch {
      // The stream broke: ending the iterable makes the follower redial and relist.
    }
    ended = true;
    notify?.();
  })();
  let last = new Map<string, string>();
  const poll = setInterval(() => {
    snapshot()?.then(
      ({ engines }) => {
        const now = new Map(engines.map((e) => [e.summary.Id, `${e.summary.State}/${e.summary.Status}`]));
        for (const [id, state] of now) {
          if (last.size > 0 && last.get(id) !== state)
            push({ Type: 'container', Action: 'die', Actor: { ID: id } });
        }
        last = now;
      },
      () => {
        // The manager does not answer; the event stream's end or the resync covers it.
      },
    );
  }, pollMs);
  signal.addEventListener('abort', () => clearInterval(poll), { once: true });
  return {
    async *[Symbol.asyncIterator]() {
      try {
        while (!signal.aborted) {
          const event = queue.shift();
          if (event) {
            yield event;
            continue;
          }
          if (ended) return;
          await new Promise<void>((resolve) => {
            notify = resolve;
          });
          notify = undefined;
        }
      } finally {
        clearInterval(poll);
      }
    },
  };
}

/** A service or node event as the container event the loop's follower reads (it only wakes the loop). */
function translate(event: RuntimeEvent): RuntimeEvent {
  const action =
    event.Type === 'service' && event.Action === 'remove'
      ? 'destroy'
      : event.Type === 'service' && event.Action === 'create'
        ? 'create'
        : 'die';
  // Why no name attribute: the follower then treats it as one of ours (a node event concerns every engine on it).
  return {
    Type: 'container',
    Action: action,
    Actor: { ID: event.Actor?.ID ?? '' },
    time: event.time,
    timeNano: event.timeNano,
  };
}
