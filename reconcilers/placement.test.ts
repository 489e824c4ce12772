import { describe, expect, it } from 'vitest';
import { chooseNode, meets, noNodeReason, type PlacementNode } from './placement.js';

function node(id: string, extra: Partial<PlacementNode> = {}): PlacementNode {
  return {
    id,
    hostname: `host-${id}`,
    role: 'worker',
    schedulable: true,
    labels: {},
    engineLabels: {},
    ...extra,
  };
}

const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('chooseNode', () => {
  const nodes = [node('a', { role: 'manager' }), node('b', { labels: { exit: 'nl' } }), node('c')];

  it('spreads: the node with the fewest engines of the pool, then of all pools, then by name', () => {
    expect(chooseNode(nodes, { constraints: [] }, counts({}), counts({}))?.id).toBe('a');
    expect(chooseNode(nodes, { constraints: [] }, counts({ a: 1 }), counts({ a: 1 }))?.id).toBe('b');
    expect(chooseNode(nodes, { constraints: [] }, counts({ a: 1 }), counts({ a: 1, b: 3 }))?.id).toBe('c');
  });

  it('keeps to the constraints and the per-node cap, and skips nodes that are not ready', () => {
    expect(chooseNode(nodes, { constraints: ['node.role==worker'] }, counts({}), counts({}))?.id).toBe('b');
    expect(
      chooseNode(
        nodes,
        { constraints: ['node.labels.exit!=nl', 'node.role!=manager'] },
        counts({}),
        counts({}),
      )?.id,
    ).toBe('c');
    const full = counts({ a: 2, b: 2, c: 1 });
    expect(chooseNode(nodes, { constraints: [], maxPerNode: 2 }, full, full)?.id).toBe('c');
    expect(chooseNode(nodes, { constraints: [], maxPerNode: 1 }, full, full)).toBeUndefined();
    const down = [node('a', { schedulable: false }), node('b')];
    expect(chooseNode(down, { constraints: [] }, counts({ b: 5 }), counts({ b: 5 }))?.id).toBe('b');
  });

  it('says why no node may take an engine', () => {
    expect(noNodeReason([node('a', { schedulable: false })], { constraints: [] })).toMatch(
      /no Swarm node is ready/,
    );
    expect(noNodeReason(nodes, { constraints: ['node.labels.exit==de'] })).toMatch(/meets the constraints/);
    expect(noNodeReason(nodes, { constraints: [], maxPerNode: 1 })).toMatch(/maxPerNode \(1\)/);
  });
});

describe('meets', () => {
  it('reads node facts without regard to case, labels exactly', () => {
    const n = node('x1', { hostname: 'Edge-1', engineLabels: { disk: 'ssd' }, os: 'linux', arch: 'x86_64' });
    expect(meets(n, 'node.hostname==edge-1')).toBe(true);
    expect(meets(n, 'node.id == x1')).toBe(true);
    expect(meets(n, 'engine.labels.disk==SSD')).toBe(false);
    expect(meets(n, 'node.platform.os==linux')).toBe(true);
    expect(meets(n, 'node.labels.zone==a')).toBe(false);
    expect(meets(n, 'node.labels.zone!=a')).toBe(true);
  });
});
