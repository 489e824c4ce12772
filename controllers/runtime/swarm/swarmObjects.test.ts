import { describe, expect, it } from 'vitest';
import { toObservedContainer } from '../../../state/observed.js';
import type { CreateContainerBody } from '../../../state/template.js';
import {
  enginesPerNode,
  type SwarmNode,
  type SwarmService,
  type SwarmTask,
  toEngineView,
  toServiceSpec,
} from './swarmObjects.js';

const labels = { 'io.enginepool.pool': 'edge', 'io.enginepool.host-port': '26000' };
const body: CreateContainerBody = {
  name: 'edge-1',
  Image: 'engine:1',
  Cmd: ['--http-port=26000'],
  Env: ['A=1'],
  Labels: labels,
  ExposedPorts: { '26000/tcp': {} },
  HostConfig: {
    PortBindings: { '26000/tcp': [{ HostPort: '26000' }] },
    Memory: 1024,
    RestartPolicy: { Name: 'no' },
  },
};
const service: SwarmService = {
  ID: 'svc1',
  CreatedAt: '2026-01-01T00:00:00Z',
  Spec: toServiceSpec(body, ['node.role==worker'], 'n1'),
};
const node = (state: string, addr = '10.0.0.2'): SwarmNode => ({
  ID: 'n1',
  Description: { Hostname: 'edge-host' },
  Spec: { Availability: 'active' },
  Status: { State: state, Addr: addr },
});
const task = (state: string, extra: Partial<SwarmTask> = {}): SwarmTask => ({
  ID: `t-${state}`,
  ServiceID: 'svc1',
  NodeID: 'n1',
  CreatedAt: '2026-01-01T00:00:01Z',
  DesiredState: 'running',
  Status: { State: state, Timestamp: '2026-01-01T00:00:02Z' },
  ...extra,
});

describe('toServiceSpec', () => {
  it('makes one replica, publishes the port in host mode, labels service and task, pins the node, no restart', () => {
    expect(service.Spec).toMatchObject({
      Name: 'edge-1',
      Labels: labels,
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: {
        Ports: [{ Protocol: 'tcp', TargetPort: 26000, PublishedPort: 26000, PublishMode: 'host' }],
      },
      TaskTemplate: {
        ContainerSpec: { Image: 'engine:1', Args: ['--http-port=26000'], Env: ['A=1'], Labels: labels },
        Resources: { Limits: { MemoryBytes: 1024 } },
        RestartPolicy: { Condition: 'none' },
        Placement: { Constraints: ['node.role==worker', 'node.id==n1'] },
      },
    });
  });
});

describe('toEngineView', () => {
  const nodes = (n: SwarmNode) => new Map([[n.ID, n]]);

  it('reads a running task as a running container published on its node, the node in its labels', () => {
    const { summary, details } = toEngineView(
      service,
      [task('shutdown', { DesiredState: 'shutdown' }), task('running')],
      nodes(node('ready')),
    );
    const container = toObservedContainer(summary, undefined);
    expect(container).toMatchObject({
      name: 'edge-1',
      state: 'running',
      hostPorts: [26000],
      image: 'engine:1',
    });
    expect(container.labels).toMatchObject({
      ...labels,
      'io.enginepool.node': 'edge-host',
      'io.enginepool.node-address': '10.0.0.2',
    });
    expect(details.State).toMatchObject({ Running: true, StartedAt: '2026-01-01T00:00:02Z' });
  });

  it('reads a task on its way as starting (live), a finished one as exited with its code', () => {
    expect(toEngineView(service, [task('preparing')], nodes(node('ready'))).summary.State).toBe('restarting');
    expect(toEngineView(service, [], nodes(node('ready'))).summary.State).toBe('restarting');
    const failed = toEngineView(
      service,
      [task('failed', { Status: { State: 'failed', ContainerStatus: { ExitCode: 3 } } })],
      nodes(node('ready')),
    );
    expect(toObservedContainer(failed.summary, [26000])).toMatchObject({
      state: 'exited',
      exitCode: 3,
      hostPorts: [26000],
    });
  });

  it('reads an engine on a node that is down as exited, so it is replaced', () => {
    const lost = toEngineView(service, [task('running')], nodes(node('down')));
    expect(lost.summary.State).toBe('exited');
    expect(lost.summary.Status).toMatch(/node edge-host is down/);
  });

  it('takes the manager address when a node reports 0.0.0.0, and counts engines per node', () => {
    const manager: SwarmNode = { ...node('ready', '0.0.0.0'), ManagerStatus: { Addr: '10.0.0.1:2377' } };
    const view = toEngineView(service, [task('running')], nodes(manager));
    expect(view.summary.Labels?.['io.enginepool.node-address']).toBe('10.0.0.1');
    const [list, engines] = enginesPerNode({ engines: [view], nodes: [manager] });
    expect(list).toEqual([{ node: 'edge-host', ready: true }]);
    expect(engines.get('edge')?.get('edge-host')).toBe(1);
  });
});
