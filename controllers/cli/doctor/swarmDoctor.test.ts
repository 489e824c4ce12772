import { describe, expect, it } from 'vitest';
import { desired, poolSpec } from '../../../test/support/fixtures.js';
import type { SwarmNode } from '../../runtime/swarm/swarmObjects.js';
import { nodeFindings } from './swarmDoctor.js';

const node = (id: string, state = 'ready', labels: Record<string, string> = {}): SwarmNode => ({
  ID: id,
  Description: { Hostname: `host-${id}` },
  Spec: { Role: 'worker', Availability: 'active', Labels: labels },
  Status: { State: state },
});

const swarmPool = (placement: string) =>
  poolSpec({ name: 'edge', extra: `  runtime: swarm\n  placement:\n${placement}` });

describe('nodeFindings', () => {
  it('says which nodes are down and where each pool may place engines', () => {
    const spec = desired(swarmPool('    constraints: ["node.labels.exit==nl"]\n'));
    const findings = nodeFindings(spec, [
      node('a', 'ready', { exit: 'nl' }),
      node('b', 'down', { exit: 'nl' }),
    ]);
    expect(findings.map((f) => [f.severity, f.check, f.detail])).toEqual([
      ['warn', 'swarm nodes', '1 of 2 not ready or not active: host-b'],
      ['ok', 'placement edge', '1 node(s) may run its engines: host-a'],
    ]);
  });

  it('fails a pool no node may run, and warns when the per-node cap holds fewer than max', () => {
    const none = nodeFindings(desired(swarmPool('    constraints: ["node.role==manager"]\n')), [node('a')]);
    expect(none[1]).toMatchObject({ severity: 'fail', check: 'placement edge' });
    const capped = nodeFindings(desired(swarmPool('    maxPerNode: 1\n')), [node('a'), node('b')]);
    expect(capped[1]).toMatchObject({
      severity: 'warn',
      detail: expect.stringMatching(/= 2 engines, below max/),
    });
  });
});
