import type { PlacementNode } from '../../../reconcilers/placement.js';
import { LABELS } from '../../../state/labels.js';
import type { DockerContainerDetails, DockerContainerSummary } from '../../../state/observed.js';
import type { CreateContainerBody } from '../../../state/template.js';

// Swarm's JSON (services, tasks, nodes) mapped into the container shapes the loop already reads, and a
// create body mapped into a service spec. Pure, so the mapping is tested without a swarm.

/** The fields of `GET /services` items that enginepool reads. */
export interface SwarmService {
  readonly ID: string;
  readonly CreatedAt?: string;
  readonly Version?: { readonly Index?: number };
  readonly Spec: SwarmServiceSpec;
}

/** The part of a service spec enginepool writes and reads. */
export interface SwarmServiceSpec {
  readonly Name: string;
  readonly Labels?: Readonly<Record<string, string>>;
  readonly TaskTemplate: {
    readonly ContainerSpec: {
      readonly Image: string;
      readonly Args?: readonly string[];
      readonly Env?: readonly string[];
      readonly Labels?: Readonly<Record<string, string>>;
    };
    readonly Resources?: { readonly Limits?: { readonly MemoryBytes?: number } };
    readonly RestartPolicy?: { readonly Condition?: string };
    readonly Placement?: { readonly Constraints?: readonly string[] };
    readonly Networks?: readonly { readonly Target: string }[];
    readonly ForceUpdate?: number;
  };
  readonly Mode?: { readonly Replicated?: { readonly Replicas?: number } };
  readonly EndpointSpec?: {
    readonly Ports?: readonly {
      readonly Protocol?: string;
      readonly TargetPort?: number;
      readonly PublishedPort?: number;
      readonly PublishMode?: string;
    }[];
  };
}

/** The fields of `GET /tasks` items that enginepool reads. */
export interface SwarmTask {
  readonly ID: string;
  readonly ServiceID: string;
  readonly NodeID?: string;
  readonly CreatedAt?: string;
  readonly DesiredState?: string;
  readonly Status?: {
    readonly State?: string;
    readonly Timestamp?: string;
    readonly Err?: string;
    readonly ContainerStatus?: { readonly ExitCode?: number };
  };
}

/** The fields of `GET /nodes` items that enginepool reads. */
export interface SwarmNode {
  readonly ID: string;
  readonly Spec?: {
    readonly Role?: string;
    readonly Availability?: string;
    readonly Labels?: Record<string, string>;
  };
  readonly Description?: {
    readonly Hostname?: string;
    readonly Platform?: { readonly OS?: string; readonly Architecture?: string };
    readonly Engine?: { readonly Labels?: Record<string, string> };
  };
  readonly Status?: { readonly State?: string; readonly Addr?: string };
  readonly ManagerStatus?: { readonly Addr?: string; readonly Reachability?: string };
}

/**
 * A task state -> the container state it stands for. A task on its way (new .. starting) is an engine
 * being started, live as a restarting container is: the prober judges it, the startup timeout bounds
 * it. (`created` would read as a container no one will start, removed at once as never started.)
 */
function taskState(state: string | undefined): 'restarting' | 'running' | 'exited' {
  if (state === 'running') return 'running';
  if (['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove'].includes(state ?? ''))
    return 'exited';
  return 'restarting';
}

function seconds(iso: string | undefined): number {
  const ms = Date.parse(iso ?? '');
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** The node's address: where its host-mode published ports answer. */
export function nodeAddress(node: SwarmNode): string | undefined {
  const addr = node.Status?.Addr;
  // Why: a manager advertised on an address reports 0.0.0.0 in Status; its manager address says where.
  if (addr && addr !== '0.0.0.0') return addr;
  return node.ManagerStatus?.Addr?.replace(/:[0-9]+$/, '');
}

/** True when Swarm would start a task on the node now. */
export function nodeReady(node: SwarmNode): boolean {
  return node.Status?.State === 'ready' && (node.Spec?.Availability ?? 'active') === 'active';
}

/** A node as placement reads it. */
export function toPlacementNode(node: SwarmNode): PlacementNode {
  return {
    id: node.ID,
    hostname: node.Description?.Hostname ?? node.ID,
    role: node.Spec?.Role === 'manager' ? 'manager' : 'worker',
    schedulable: nodeReady(node),
    labels: node.Spec?.Labels ?? {},
    engineLabels: node.Description?.Engine?.Labels ?? {},
    os: node.Description?.Platform?.OS,
    arch: node.Description?.Platform?.Architecture,
  };
}

/** The node a service is pinned to (its `node.id==` constraint). */
export function pinnedNode(service: SwarmService): string | undefined {
  for (const c of service.Spec.TaskTemplate.Placement?.Constraints ?? []) {
    const match = /^node\.id==(.+)$/.exec(c.replace(/\s+/g, ''));
    if (match) return match[1];
  }
  return undefined;
}

/** The task that stands for the service now: the newest one Swarm wants running, else the newest. */
export function currentTask(tasks: readonly SwarmTask[]): SwarmTask | undefined {
  const newest = (list: readonly SwarmTask[]) =>
    list.reduce<SwarmTask | undefined>(
      (best, t) => (!best || (t.CreatedAt ?? '') > (best.CreatedAt ?? '') ? t : best),
      undefined,
    );
  return newest(tasks.filter((t) => t.DesiredState === 'running')) ?? newest(tasks);
}

/** An engine service and its task as one container: state from the task, host from the node. */
export interface EngineView {
  readonly summary: DockerContainerSummary;
  readonly details: DockerContainerDetails;
  /** The node the engine is on (or pinned to), when known. */
  readonly node?: SwarmNode;
}

/**
 * Maps one service. A task on a node that is not ready is lost: the engine reads as exited, so the
 * reconcilers replace it (placement puts the new one on a ready node).
 */
export function toEngineView(
  service: SwarmService,
  tasks: readonly SwarmTask[],
  nodes: ReadonlyMap<string, SwarmNode>,
): EngineView {
  const task = currentTask(tasks);
  const nodeId = task?.NodeID || pinnedNode(service);
  const node = nodeId ? nodes.get(nodeId) : undefined;
  let state = taskState(task?.Status?.State);
  const lost = node !== undefined && node.Status?.State !== 'ready';
  if (lost) state = 'exited';
  const exitCode = task?.Status?.ContainerStatus?.ExitCode;
  const labels: Record<string, string> = { ...(service.Spec.Labels ?? {}) };
  if (node) {
    labels[LABELS.node] = node.Description?.Hostname ?? node.ID;
    const address = nodeAddress(node);
    if (address) labels[LABELS.nodeAddress] = address;
  }
  const ports = (service.Spec.EndpointSpec?.Ports ?? []).filter((p) => p.PublishedPort);
  const bindings: Record<string, { HostPort: string }[]> = {};
  for (const p of ports)
    bindings[`${p.TargetPort}/${p.Protocol ?? 'tcp'}`] = [{ HostPort: String(p.PublishedPort) }];
  const status =
    state === 'running'
      ? 'Up'
      : state === 'exited'
        ? lost
          ? `Exited (node ${labels[LABELS.node]} is ${node?.Status?.State ?? 'unknown'})`
          : `Exited (${exitCode ?? 0})`
        : `Starting (${task?.Status?.State ?? 'new'}${task?.Status?.Err ? `: ${task.Status.Err}` : ''})`;
  const running = state === 'running';
  return {
    summary: {
      Id: service.ID,
      Names: [`/${service.Spec.Name}`],
      Image: service.Spec.TaskTemplate.ContainerSpec.Image.replace(/@sha256:[0-9a-f]+$/, ''),
      State: state,
      Status: status,
      Created: seconds(service.CreatedAt),
      Labels: labels,
      Ports: running
        ? ports.map((p) => ({
            PrivatePort: p.TargetPort,
            PublicPort: p.PublishedPort,
            Type: p.Protocol ?? 'tcp',
          }))
        : [],
      HostConfig: { NetworkMode: '' },
      NetworkSettings: { Networks: {} },
    },
    details: {
      Id: service.ID,
      Name: `/${service.Spec.Name}`,
      ...(service.CreatedAt ? { Created: service.CreatedAt } : {}),
      State: {
        Status: state,
        Running: running,
        ...(running && task?.Status?.Timestamp ? { StartedAt: task.Status.Timestamp } : {}),
        ...(exitCode !== undefined ? { ExitCode: exitCode } : {}),
      },
      HostConfig: { NetworkMode: '', PortBindings: bindings },
      NetworkSettings: { Ports: running ? bindings : {}, Networks: {} },
    },
    ...(node ? { node } : {}),
  };
}

/**
 * The service spec of an engine's create body: one replica, the port published in host mode on the
 * chosen node, the same labels on the service and its tasks, and no restart by Swarm (see
 * reconcilers/placement.ts for why the controller, not Swarm, brings engines back).
 */
export function toServiceSpec(
  body: CreateContainerBody,
  constraints: readonly string[],
  nodeId: string,
): SwarmServiceSpec {
  const ports = Object.entries(body.HostConfig.PortBindings ?? {}).flatMap(([key, list]) => {
    const [target, protocol] = key.split('/');
    return list.map((b) => ({
      Protocol: protocol ?? 'tcp',
      TargetPort: Number(target),
      PublishedPort: Number(b.HostPort),
      PublishMode: 'host',
    }));
  });
  const network = body.HostConfig.NetworkMode;
  return {
    Name: body.name,
    Labels: body.Labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: body.Image,
        ...(body.Cmd ? { Args: body.Cmd } : {}),
        ...(body.Env ? { Env: body.Env } : {}),
        Labels: body.Labels,
      },
      ...(body.HostConfig.Memory !== undefined
        ? { Resources: { Limits: { MemoryBytes: body.HostConfig.Memory } } }
        : {}),
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: [...constraints, `node.id==${nodeId}`] },
      ...(network ? { Networks: [{ Target: network }] } : {}),
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Ports: ports },
  };
}

/** Node availability and engines per pool per node (by hostname), for the metrics. */
export function enginesPerNode(snapshot: {
  readonly engines: readonly EngineView[];
  readonly nodes: readonly SwarmNode[];
}): [{ node: string; ready: boolean }[], Map<string, Map<string, number>>] {
  const nodes = snapshot.nodes.map((n) => ({ node: n.Description?.Hostname ?? n.ID, ready: nodeReady(n) }));
  const engines = new Map<string, Map<string, number>>();
  for (const { summary } of snapshot.engines) {
    const pool = summary.Labels?.[LABELS.pool];
    const node = summary.Labels?.[LABELS.node];
    if (!pool || !node) continue;
    const perNode = engines.get(pool) ?? new Map<string, number>();
    perNode.set(node, (perNode.get(node) ?? 0) + 1);
    engines.set(pool, perNode);
  }
  return [nodes, engines];
}
