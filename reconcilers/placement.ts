// Placement of a Swarm pool's engines: which node the next engine goes to. Pure: the Swarm runtime
// hands in the nodes and where the pool's engines are, and pins the new service to the answer.
//
// Why the controller places (and Swarm never reschedules): each engine is its own one-replica service
// with restart condition `none`, pinned by `node.id==` to the node chosen here. Swarm's own spread works
// within one service only, and it cannot cap engines per node across services; and a controller that
// replaced lost engines while Swarm also rescheduled them would run two copies of an engine with one
// port. So Swarm only starts what it is told where it is told; a node going down makes its engines
// lost (state `exited`), the reconcilers remove them and create replacements, placed here.

/** A Swarm node, the fields placement reads. */
export interface PlacementNode {
  readonly id: string;
  readonly hostname: string;
  readonly role: 'manager' | 'worker';
  /** Ready and active: Swarm would start a task there now. */
  readonly schedulable: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly engineLabels: Readonly<Record<string, string>>;
  readonly os?: string;
  readonly arch?: string;
}

/** A pool's placement (spec.placement). */
export interface Placement {
  readonly constraints: readonly string[];
  readonly maxPerNode?: number;
}

/** The value a constraint's key names on a node, or undefined when the node has no such value. */
function nodeValue(node: PlacementNode, key: string): string | undefined {
  if (key === 'node.id') return node.id;
  if (key === 'node.hostname') return node.hostname;
  if (key === 'node.role') return node.role;
  if (key === 'node.platform.os') return node.os;
  if (key === 'node.platform.arch') return node.arch;
  if (key.startsWith('node.labels.')) return node.labels[key.slice('node.labels.'.length)];
  if (key.startsWith('engine.labels.')) return node.engineLabels[key.slice('engine.labels.'.length)];
  return undefined;
}

/** True when a node meets one constraint (`key==value` or `key!=value`), as Swarm reads it. */
export function meets(node: PlacementNode, constraint: string): boolean {
  const match = /^\s*([A-Za-z0-9_.-]+)\s*(==|!=)\s*(.*?)\s*$/.exec(constraint);
  if (!match) return false;
  const value = nodeValue(node, match[1]!);
  // Why: Swarm compares node facts without regard to case, labels exactly.
  const labelKey = match[1]!.includes('.labels.');
  const equal =
    value !== undefined && (labelKey ? value === match[3] : value.toLowerCase() === match[3]!.toLowerCase());
  return match[2] === '==' ? equal : !equal;
}

/**
 * The node the next engine of a pool goes to, or undefined when none may take it. Spread: the node
 * with the fewest engines of this pool, then the fewest managed engines of any pool, then by name.
 */
export function chooseNode(
  nodes: readonly PlacementNode[],
  placement: Placement,
  poolEngines: ReadonlyMap<string, number>,
  allEngines: ReadonlyMap<string, number>,
): PlacementNode | undefined {
  const candidates = nodes.filter(
    (node) =>
      node.schedulable &&
      placement.constraints.every((c) => meets(node, c)) &&
      (placement.maxPerNode === undefined || (poolEngines.get(node.id) ?? 0) < placement.maxPerNode),
  );
  candidates.sort(
    (a, b) =>
      (poolEngines.get(a.id) ?? 0) - (poolEngines.get(b.id) ?? 0) ||
      (allEngines.get(a.id) ?? 0) - (allEngines.get(b.id) ?? 0) ||
      a.hostname.localeCompare(b.hostname),
  );
  return candidates[0];
}

/** Why no node may take an engine, for the create's error. */
export function noNodeReason(nodes: readonly PlacementNode[], placement: Placement): string {
  const ready = nodes.filter((n) => n.schedulable);
  const fitting = ready.filter((n) => placement.constraints.every((c) => meets(n, c)));
  if (ready.length === 0) return 'no Swarm node is ready and active';
  if (fitting.length === 0)
    return `no ready node meets the constraints ${placement.constraints.join(', ')} (${ready.length} ready)`;
  return `every node that may run it holds maxPerNode (${placement.maxPerNode}) engines of the pool (${fitting.length} such nodes)`;
}
