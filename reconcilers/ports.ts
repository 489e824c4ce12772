import type { ObservedWorld } from '../state/observed.js';
import type { PoolSpec, PortRange } from '../state/spec/index.js';

// Host ports, derived from Docker on every tick: the ports every container publishes (ours or not,
// running or stopped), the host-port labels of managed containers (engines behind a VPN publish
// nothing themselves), and ports Docker refused recently. There is no allocator state to release.

interface RangePorts {
  readonly list: readonly number[];
  readonly set: ReadonlySet<number>;
}

/**
 * The ports of each range, by the range object. Why cached: every pass asks for the range of every
 * pool, and a parsed spec never changes (a new file is parsed into new objects).
 */
const rangePortsCache = new WeakMap<PortRange, RangePorts>();

function rangePorts(range: PortRange): RangePorts {
  let ports = rangePortsCache.get(range);
  if (!ports) {
    const list: number[] = [];
    for (let port = range.start; port <= range.end; port++) list.push(port);
    ports = { list, set: new Set(list) };
    rangePortsCache.set(range, ports);
  }
  return ports;
}

/** Ports an engine of this pool may be published on: the range, or behind a VPN the range ∩ what the VPN publishes. */
export function allowedPorts(pool: PoolSpec, world: ObservedWorld): readonly number[] {
  const { start, end } = pool.hostRange;
  const vpnName = pool.vpn?.gluetun.container;
  if (vpnName !== undefined) {
    const vpn = world.vpns.get(vpnName);
    return (vpn?.publishedPorts ?? []).filter((port) => port >= start && port <= end);
  }
  return rangePorts(pool.hostRange).list;
}

/** Names of the pool's own engines: the containers whose ports are the pool's to reuse. */
export function ownEngineNames(pool: PoolSpec, world: ObservedWorld): Set<string> {
  return new Set((world.enginesByPool.get(pool.name) ?? []).map((e) => e.name));
}

/**
 * The containers other than the pool's own engines and its VPN that hold the port. Behind a VPN, the
 * VPN container publishes every usable port; that does not make them taken.
 */
export function foreignHolders(
  pool: PoolSpec,
  world: ObservedWorld,
  port: number,
  ownNames: ReadonlySet<string>,
): string[] {
  const vpnName = pool.vpn?.gluetun.container;
  return (world.portHolders.get(port) ?? []).filter((holder) => holder !== vpnName && !ownNames.has(holder));
}

/** The pool's port budget: how many engines it could hold at most, and the ports free for new ones. */
export interface PortBudget {
  /** Allowed ports not held by anything else than this pool's engines (and its VPN). */
  readonly capacity: number;
  /** Allowed ports nobody holds and Docker has not refused recently, lowest first. */
  readonly free: readonly number[];
  /** Allowed ports held only by this pool's engines (and not set aside): free once those are removed. */
  readonly ownHeld: ReadonlySet<number>;
  readonly allowed: ReadonlySet<number>;
}

/** Computes a pool's {@link PortBudget} from the world and the ports Docker refused recently. */
export function portBudget(pool: PoolSpec, world: ObservedWorld, setAside: ReadonlySet<number>): PortBudget {
  const allowed = allowedPorts(pool, world);
  const ownNames = ownEngineNames(pool, world);
  const vpnName = pool.vpn?.gluetun.container;
  let capacity = 0;
  const free: number[] = [];
  const ownHeld = new Set<number>();
  for (const port of allowed) {
    // Why one pass over the holders, not foreignHolders: it would build an array for every allowed
    // port of every pool on every pass, and most ports have no holder at all.
    let foreign = false;
    let own = false;
    for (const holder of world.portHolders.get(port) ?? []) {
      if (ownNames.has(holder)) own = true;
      else if (holder !== vpnName) foreign = true;
    }
    if (foreign) continue;
    capacity++;
    if (setAside.has(port)) continue;
    if (own) ownHeld.add(port);
    else free.push(port);
  }
  const allowedSet = pool.vpn ? new Set(allowed) : rangePorts(pool.hostRange).set;
  return { capacity, free, ownHeld, allowed: allowedSet };
}
