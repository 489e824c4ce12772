import { engineIndex, LABELS } from './labels.js';

// What Docker really has, mapped from its list/inspect JSON by pure functions. Every tick rebuilds this
// from Docker; nothing here is remembered between ticks, so it cannot drift from the system.

/** The fields of Docker's `GET /containers/json?all=1` items that enginepool reads. */
export interface DockerContainerSummary {
  readonly Id: string;
  readonly Names?: readonly string[] | null;
  readonly Image?: string;
  readonly State?: string;
  readonly Status?: string;
  /** Seconds since the epoch. */
  readonly Created?: number;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly Ports?:
    | readonly { PrivatePort?: number; PublicPort?: number; Type?: string; IP?: string }[]
    | null;
  readonly HostConfig?: { readonly NetworkMode?: string } | null;
  readonly NetworkSettings?: {
    readonly Networks?: Readonly<Record<string, { readonly IPAddress?: string } | null>> | null;
  } | null;
}

/** The fields of Docker's `GET /containers/{id}/json` that enginepool reads. */
export interface DockerContainerDetails {
  readonly Id: string;
  readonly Name?: string;
  readonly Created?: string;
  readonly State?: {
    readonly Status?: string;
    readonly Running?: boolean;
    readonly StartedAt?: string;
    readonly ExitCode?: number;
    readonly Health?: { readonly Status?: string } | null;
  } | null;
  readonly HostConfig?: {
    readonly NetworkMode?: string;
    readonly PortBindings?: Readonly<
      Record<string, readonly { HostIp?: string; HostPort?: string }[] | null>
    > | null;
  } | null;
  readonly NetworkSettings?: {
    readonly Ports?: Readonly<
      Record<string, readonly { HostIp?: string; HostPort?: string }[] | null>
    > | null;
    readonly Networks?: Readonly<Record<string, { readonly IPAddress?: string } | null>> | null;
  } | null;
}

/** Docker's container states, with Podman's `stopped`/`stopping` folded in. */
export type DockerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** Any container Docker has, ours or not. */
export interface ObservedContainer {
  readonly containerId: string;
  readonly name: string;
  readonly image: string;
  readonly state: DockerState;
  /** Exit code parsed from Docker's status text, when the container has exited. */
  readonly exitCode?: number;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Host ports the container publishes now, or would publish when started. */
  readonly hostPorts: readonly number[];
  readonly networkMode: string;
  /** IP address per network name. */
  readonly networks: Readonly<Record<string, string>>;
}

/** A managed container: it carries the pool label. */
export interface ObservedEngine extends ObservedContainer {
  readonly pool: string;
  /** The number in `<pool>-<n>`, or undefined for a managed container renamed by hand. */
  readonly index?: number;
  readonly hostPort?: number;
  readonly p2pPort?: number;
  readonly specHash?: string;
  readonly forwarded: boolean;
  /** The VPN container's name, for engines that share its network. */
  readonly vpn?: string;
  /** When Docker last started it (inspect), known for engines that share a VPN's network. */
  readonly startedAt?: number;
}

/** A VPN container as Docker sees it. */
export interface ObservedVpn {
  readonly name: string;
  readonly exists: boolean;
  readonly containerId?: string;
  readonly state?: DockerState;
  /** Docker's health status, when the image has a HEALTHCHECK. */
  readonly health?: 'starting' | 'healthy' | 'unhealthy';
  readonly startedAt?: number;
  /** Host ports it publishes: the only ports engines in its namespace can be reached on. */
  readonly publishedPorts: readonly number[];
  readonly networks: Readonly<Record<string, string>>;
}

/** Docker's truth for one tick. */
export interface ObservedWorld {
  /** Every container, managed or not. */
  readonly containers: readonly ObservedContainer[];
  /** Managed containers (the pool label), of every pool. */
  readonly engines: readonly ObservedEngine[];
  /** The same engines by pool name, so per-pool work never scans every engine. */
  readonly enginesByPool: ReadonlyMap<string, readonly ObservedEngine[]>;
  /** Every container name in use: a held name blocks that name. */
  readonly names: ReadonlySet<string>;
  /** Host port -> names of the containers that publish it or (managed) hold it by label. */
  readonly portHolders: ReadonlyMap<number, readonly string[]>;
  readonly vpns: ReadonlyMap<string, ObservedVpn>;
  /** Milliseconds since the epoch, when this was observed. */
  readonly observedAt: number;
}

/** Extra facts the observer fetched with inspect, where the list does not carry them. */
export interface ObservationExtras {
  /** Host ports of stopped containers (from `HostConfig.PortBindings`), by container id. */
  readonly stoppedBindings: ReadonlyMap<string, readonly number[]>;
  /** The inspect answer for each VPN container name, or undefined when it does not exist. */
  readonly vpnDetails: ReadonlyMap<string, DockerContainerDetails | undefined>;
  /** `State.StartedAt` of engines that share a VPN's network, by container id. */
  readonly engineStartedAt: ReadonlyMap<string, number>;
}

const STATES: readonly DockerState[] = [
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
];

/** Maps Docker's state text to a {@link DockerState}; Podman's `stopped` is `exited`, `stopping` is `running`. */
export function toDockerState(text: string | undefined): DockerState {
  const lower = (text ?? '').toLowerCase();
  if (lower === 'stopped' || lower === 'configured' || lower === 'initialized') {
    return lower === 'stopped' ? 'exited' : 'created';
  }
  if (lower === 'stopping') return 'running';
  return (STATES as readonly string[]).includes(lower) ? (lower as DockerState) : 'dead';
}

/** True for states in which the container's processes run (paused ones still hold their ports). */
export function isLive(state: DockerState): boolean {
  return state === 'running' || state === 'paused' || state === 'restarting';
}

function parseTime(text: string | undefined): number | undefined {
  if (!text || text.startsWith('0001-')) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Host ports from a `PortBindings`/`NetworkSettings.Ports` map. */
export function bindingHostPorts(
  bindings: Readonly<Record<string, readonly { HostPort?: string }[] | null>> | null | undefined,
): number[] {
  const ports = new Set<number>();
  for (const list of Object.values(bindings ?? {})) {
    for (const binding of list ?? []) {
      const port = parsePort(binding.HostPort);
      if (port !== undefined) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

function networksOf(
  networks: Readonly<Record<string, { readonly IPAddress?: string } | null>> | null | undefined,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, network] of Object.entries(networks ?? {})) {
    if (network?.IPAddress) result[name] = network.IPAddress;
  }
  return result;
}

/** Maps one list item; `stoppedPorts` are the bindings of a stopped container, known from inspect. */
export function toObservedContainer(
  summary: DockerContainerSummary,
  stoppedPorts: readonly number[] | undefined,
): ObservedContainer {
  const state = toDockerState(summary.State);
  const published = new Set<number>();
  for (const p of summary.Ports ?? []) if (p.PublicPort) published.add(p.PublicPort);
  const exit = /^Exited \((-?[0-9]+)\)/.exec(summary.Status ?? '');
  // Why: every container gets the same keys in the same order (absent ones undefined), so the planner's
  // per-engine loops read one object shape (V8 hidden class) and stay fast; see bench/plan.bench.ts.
  return {
    containerId: summary.Id,
    name: (summary.Names?.[0] ?? summary.Id).replace(/^\//, ''),
    image: summary.Image ?? '',
    state,
    exitCode: exit ? Number(exit[1]) : undefined,
    createdAt: (summary.Created ?? 0) * 1000,
    labels: summary.Labels ?? {},
    hostPorts: isLive(state) ? [...published].sort((a, b) => a - b) : [...(stoppedPorts ?? [])],
    networkMode: summary.HostConfig?.NetworkMode ?? '',
    networks: networksOf(summary.NetworkSettings?.Networks),
  };
}

function toObservedEngine(container: ObservedContainer, startedAt: number | undefined): ObservedEngine {
  const labels = container.labels;
  const pool = labels[LABELS.pool]!;
  const index = engineIndex(pool, container.name);
  const hostPort = parsePort(labels[LABELS.hostPort]);
  const p2pPort = parsePort(labels[LABELS.p2pPort]);
  const specHash = labels[LABELS.specHash];
  const vpn = labels[LABELS.vpn];
  // Why: one shape for every engine, as in toObservedContainer. A spread of `container` plus optional
  // keys gave 1,000 engines 992 hidden classes and made planning 1,000 engines 3x slower.
  return {
    containerId: container.containerId,
    name: container.name,
    image: container.image,
    state: container.state,
    exitCode: container.exitCode,
    createdAt: container.createdAt,
    labels,
    hostPorts: container.hostPorts,
    networkMode: container.networkMode,
    networks: container.networks,
    pool,
    index,
    hostPort,
    p2pPort,
    specHash: specHash || undefined,
    forwarded: labels[LABELS.forwarded] === 'true',
    vpn: vpn || undefined,
    startedAt,
  };
}

function toObservedVpn(
  name: string,
  details: DockerContainerDetails | undefined,
  fromList?: ObservedContainer,
) {
  if (!details) return { name, exists: false, publishedPorts: [], networks: {} } satisfies ObservedVpn;
  const state = toDockerState(details.State?.Status);
  const health = details.State?.Health?.Status;
  const startedAt = parseTime(details.State?.StartedAt);
  const published = bindingHostPorts(details.HostConfig?.PortBindings);
  return {
    name,
    exists: true,
    containerId: details.Id,
    state,
    ...(health === 'starting' || health === 'healthy' || health === 'unhealthy' ? { health } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
    // Why: PortBindings is what it publishes whenever it runs; the list only shows them while it runs.
    publishedPorts: published.length > 0 ? published : [...(fromList?.hostPorts ?? [])],
    networks: fromList?.networks ?? networksOf(details.NetworkSettings?.Networks),
  } satisfies ObservedVpn;
}

/** Builds the world of one tick from Docker's list and the few inspects the observer made. */
export function observeWorld(
  list: readonly DockerContainerSummary[],
  extras: ObservationExtras,
  observedAt: number,
): ObservedWorld {
  const containers = list.map((summary) =>
    toObservedContainer(summary, extras.stoppedBindings.get(summary.Id)),
  );
  const engines: ObservedEngine[] = [];
  const enginesByPool = new Map<string, ObservedEngine[]>();
  const names = new Set<string>();
  const portHolders = new Map<number, string[]>();
  const hold = (port: number, holder: string) => {
    const holders = portHolders.get(port);
    if (!holders) portHolders.set(port, [holder]);
    else if (!holders.includes(holder)) holders.push(holder);
  };
  for (const container of containers) {
    names.add(container.name);
    for (const port of container.hostPorts) hold(port, container.name);
    if (container.labels[LABELS.pool]) {
      const engine = toObservedEngine(container, extras.engineStartedAt.get(container.containerId));
      engines.push(engine);
      const ofPool = enginesByPool.get(engine.pool);
      if (ofPool) ofPool.push(engine);
      else enginesByPool.set(engine.pool, [engine]);
      // Why: an engine behind a VPN publishes nothing itself; its label is its claim on a port.
      if (engine.hostPort !== undefined) hold(engine.hostPort, engine.name);
    }
  }
  const vpns = new Map<string, ObservedVpn>();
  for (const [name, details] of extras.vpnDetails) {
    const fromList = details ? containers.find((c) => c.containerId === details.Id) : undefined;
    vpns.set(name, toObservedVpn(name, details, fromList));
  }
  return { containers, engines, enginesByPool, names, portHolders, vpns, observedAt };
}

/** The container id in a `container:<id>` network mode, or undefined for any other mode. */
export function namespaceDonor(networkMode: string): string | undefined {
  return networkMode.startsWith('container:') ? networkMode.slice('container:'.length) : undefined;
}
