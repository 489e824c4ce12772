import { chooseNode, meets } from '../../../reconcilers/placement.js';
import type { DesiredSpec } from '../../../state/spec/index.js';
import type { Runtime } from '../../runtime/runtime.js';
import { type SwarmNode, toPlacementNode } from '../../runtime/swarm/swarmObjects.js';
import type { SwarmRuntime } from '../../runtime/swarm/swarmRuntime.js';
import type { Finding } from './findings.js';

// `enginepool doctor` for Swarm pools: the daemon is a manager, the nodes are ready, each pool has
// nodes that may run its engines, and its image can reach every node.

const MANAGER_FIX =
  'point DOCKER_HOST at a Swarm manager (docker node ls works there), or make one: docker swarm init --advertise-addr ADDRESS';

/** The findings about the nodes, from the manager's list. Pure. */
export function nodeFindings(spec: DesiredSpec, nodes: readonly SwarmNode[]): Finding[] {
  const findings: Finding[] = [];
  const placementNodes = nodes.map(toPlacementNode);
  const notReady = placementNodes.filter((n) => !n.schedulable).map((n) => n.hostname);
  findings.push(
    notReady.length === 0
      ? { severity: 'ok', check: 'swarm nodes', detail: `${nodes.length} ready and active` }
      : {
          severity: 'warn',
          check: 'swarm nodes',
          detail: `${notReady.length} of ${nodes.length} not ready or not active: ${notReady.join(', ')}`,
          fix: 'engines are placed on the others; bring the nodes back (docker node ls, docker node update --availability active NODE)',
        },
  );
  for (const pool of spec.pools.filter((p) => p.runtime === 'swarm')) {
    const check = `placement ${pool.name}`;
    const fitting = placementNodes.filter(
      (n) => n.schedulable && pool.placement.constraints.every((c) => meets(n, c)),
    );
    const capacity =
      pool.placement.maxPerNode === undefined ? Infinity : fitting.length * pool.placement.maxPerNode;
    if (!chooseNode(placementNodes, pool.placement, new Map(), new Map())) {
      findings.push({
        severity: 'fail',
        check,
        detail: `no ready node meets ${pool.placement.constraints.join(', ') || 'the placement'}`,
        fix: 'relax spec.placement.constraints, or label nodes to match (docker node update --label-add KEY=VALUE NODE)',
      });
    } else if (capacity < pool.replicas.max) {
      findings.push({
        severity: 'warn',
        check,
        detail: `${fitting.length} node(s) x maxPerNode ${pool.placement.maxPerNode} = ${capacity} engines, below max ${pool.replicas.max}`,
        fix: 'add nodes, or raise spec.placement.maxPerNode, or lower replicas.max',
      });
    } else {
      findings.push({
        severity: 'ok',
        check,
        detail: `${fitting.length} node(s) may run its engines: ${fitting.map((n) => n.hostname).join(', ')}`,
      });
    }
  }
  return findings;
}

/** Every Swarm finding: manager, nodes, placement, images. */
export async function swarmFindings(
  spec: DesiredSpec,
  swarm: SwarmRuntime,
  docker: Runtime,
): Promise<Finding[]> {
  try {
    await swarm.inspectSwarm();
  } catch (error) {
    return [
      {
        severity: 'fail',
        check: 'swarm',
        detail: `not a Swarm manager: ${(error as Error).message}`,
        fix: MANAGER_FIX,
      },
    ];
  }
  const findings: Finding[] = [
    { severity: 'ok', check: 'swarm', detail: 'the Docker engine is a Swarm manager' },
  ];
  findings.push(...nodeFindings(spec, await swarm.nodes()));
  const images = new Set(spec.pools.filter((p) => p.runtime === 'swarm').map((p) => p.template.image));
  for (const image of images) {
    const check = `image ${image} on the nodes`;
    try {
      await docker.checkPullable(image);
      findings.push({
        severity: 'ok',
        check,
        detail: 'the registry has it: each node pulls it at its first engine',
      });
    } catch (error) {
      // Why: the manager cannot see other nodes' images; an image no registry serves must be on each.
      findings.push({
        severity: 'warn',
        check,
        detail: `no registry serves it (${(error as Error).message}); every node that may run an engine needs it locally`,
        fix: `load it on each node: docker save ${image} | docker -H NODE load`,
      });
    }
  }
  return findings;
}
