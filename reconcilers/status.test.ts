import { describe, expect, it } from 'vitest';
import type { ProbeRecord } from '../state/health.js';
import type { BreakerView } from '../state/machines/circuitBreaker.js';
import type { VpnView } from '../state/machines/vpnLifecycle.js';
import type { DockerContainerDetails, DockerContainerSummary } from '../state/observed.js';
import type { PoolSpec } from '../state/spec/index.js';
import {
  allReady,
  desired,
  engine,
  foreign,
  gluetunDetails,
  poolSpec,
  ready,
  view,
  vpnExtra,
  vpnState,
  world,
} from '../test/support/fixtures.js';
import type { StreamFacts } from './engines.js';
import { planTick } from './plan.js';
import { type Condition, type PoolStatus, type Problem, poolStatus } from './status.js';
import type { RemovalFailure } from './stuck.js';

// Every condition a pool reports, with each of its reasons, from a plan of the real planner: one row a
// situation, the four conditions as `Type=Status Reason: message` lines.

const MIN = 60_000;
const NOW = 10 * MIN;
const ace = poolSpec();
const vpnPool = poolSpec({ extra: vpnExtra() });
const OPEN: BreakerView = {
  state: 'open',
  failures: 5,
  createsAllowed: 0,
  failuresToOpen: 0,
  openedAt: NOW - MIN,
  retryAt: NOW + 4 * MIN,
  lastFailure: 'StartFailed: exit 1',
};
const HALF_OPEN: BreakerView = { state: 'halfOpen', failures: 5, createsAllowed: 1, failuresToOpen: 1 };

interface Case {
  readonly pool?: PoolSpec;
  readonly list?: DockerContainerSummary[];
  readonly probes?: Record<string, ProbeRecord>;
  readonly streams?: Record<string, StreamFacts>;
  readonly breaker?: BreakerView;
  readonly setAsidePorts?: number[];
  readonly removalFailures?: Record<string, RemovalFailure>;
  /** The VPN machine; the Gluetun container runs unless `gluetun` says otherwise. */
  readonly vpn?: Partial<VpnView>;
  readonly gluetun?: DockerContainerDetails | null;
  readonly problem?: Problem;
  readonly previous?: readonly Condition[];
  readonly now?: number;
}

function status(c: Case): PoolStatus {
  const pool = c.pool ?? ace;
  const plan = planTick({
    spec: desired(pool),
    world: world(c.list ?? [], {
      vpns: { gluetun: c.gluetun === null ? undefined : (c.gluetun ?? gluetunDetails()) },
    }),
    view: view({
      probes: c.probes ?? {},
      streams: c.streams ?? {},
      ...(c.breaker ? { breakers: { [pool.name]: c.breaker } } : {}),
      ...(c.vpn ? { vpns: { [pool.name]: vpnState(c.vpn) } } : {}),
      setAsidePorts: c.setAsidePorts ?? [],
      removalFailures: c.removalFailures ?? {},
    }),
    now: c.now ?? NOW,
  });
  return poolStatus({
    plan: plan.pools.get(pool.name)!,
    planned: plan.actions.map((a) => a.kind),
    ...(c.problem ? { problem: c.problem } : {}),
    ...(c.previous ? { previous: c.previous } : {}),
    generation: 2,
    observedGeneration: 2,
    now: c.now ?? NOW,
  });
}

const lines = (s: PoolStatus) => s.conditions.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`);

const WITHIN = 'ScalingLimited=False WithinLimits: 1 engine wanted, max 5';
const AS_EXPECTED = 'Degraded=False AsExpected: no provisioning problem';
const CONVERGED = 'Progressing=False Converged: the pool matches the file';
const SCALING_UP = 'Progressing=True ScalingUp: 1 engine wanted, 0 starting';
const BREAKER_OPEN =
  'circuit breaker open until 1970-01-01T00:14:00.000Z after 5 provisioning failures (last: StartFailed: exit 1)';

describe('poolStatus: conditions', () => {
  it.each<[string, Case, string[]]>([
    [
      'converged',
      { list: [engine(ace, 1)], probes: allReady(ace, [1]) },
      ['Ready=True MinFreeAvailable: 1 free engine ready (minFree 1)', CONVERGED, AS_EXPECTED, WITHIN],
    ],
    [
      'an empty Docker: scaling up',
      {},
      ['Ready=False NotEnoughFree: 0 of minFree 1 free engines ready', SCALING_UP, AS_EXPECTED, WITHIN],
    ],
    [
      'an engine starting',
      { list: [engine(ace, 1)] },
      [
        'Ready=False EnginesStarting: 0 of minFree 1 free engines ready, 1 starting',
        'Progressing=True ScalingUp: 1 engine wanted, 1 starting',
        AS_EXPECTED,
        WITHIN,
      ],
    ],
    [
      'every engine used at max',
      {
        pool: poolSpec({ replicas: '{ minFree: 1, max: 2 }' }),
        list: [engine(ace, 1), engine(ace, 2)],
        probes: allReady(ace, [1, 2]),
        streams: { 'id-ace-1': { open: 1 }, 'id-ace-2': { open: 1 } },
      },
      [
        'Ready=False MaxReached: 2 engines in use + minFree 1 = 3 wanted, capped at max 2',
        CONVERGED,
        AS_EXPECTED,
        'ScalingLimited=True MaxReached: 2 engines in use + minFree 1 = 3 wanted, capped at max 2',
      ],
    ],
    [
      'fewer usable ports than engines wanted',
      {
        pool: poolSpec({ replicas: '{ minFree: 3, max: 5 }', range: '19000-19004' }),
        list: [engine(ace, 1), engine(ace, 2), foreign('web', { ports: [19002, 19003, 19004] })],
        probes: allReady(ace, [1, 2]),
      },
      [
        'Ready=False PortsExhausted: 3 engines wanted but only 2 usable host ports in 19000-19004',
        CONVERGED,
        AS_EXPECTED,
        'ScalingLimited=True PortsExhausted: 3 engines wanted but only 2 usable host ports in 19000-19004',
      ],
    ],
    [
      'a create without a free port (the others set aside)',
      {
        pool: poolSpec({ replicas: '{ minFree: 2, max: 5 }' }),
        setAsidePorts: [19001, 19002, 19003, 19004, 19005, 19006, 19007, 19008, 19009],
      },
      [
        'Ready=False NotEnoughFree: 0 of minFree 2 free engines ready',
        'Progressing=True ScalingUp: 2 engines wanted, 0 starting',
        'Degraded=True PortsExhausted: no free host port in 19000-19009',
        'ScalingLimited=False WithinLimits: 2 engines wanted, max 5',
      ],
    ],
    [
      'the breaker half-open: its one trial create goes out',
      { breaker: HALF_OPEN },
      [
        'Ready=False CircuitOpen: circuit breaker half-open: one trial create at a time, after 5 provisioning failures',
        SCALING_UP,
        'Degraded=True CircuitOpen: circuit breaker half-open: one trial create at a time, after 5 provisioning failures',
        WITHIN,
      ],
    ],
    [
      'the breaker open while free engines are ready',
      { list: [engine(ace, 1)], probes: allReady(ace, [1]), breaker: OPEN },
      [
        'Ready=True MinFreeAvailable: 1 free engine ready (minFree 1)',
        CONVERGED,
        `Degraded=True CircuitOpen: ${BREAKER_OPEN}`,
        WITHIN,
      ],
    ],
    [
      'an engine Docker cannot remove: named with its error while the pool runs around it',
      {
        list: [engine(ace, 1, { state: 'dead', status: 'Dead' }), engine(ace, 2, { port: 19001 })],
        probes: allReady(ace, [2]),
        removalFailures: {
          'id-ace-1': {
            error: 'device or resource busy',
            attempts: 2,
            firstFailedAt: NOW - 3000,
            lastFailedAt: NOW - 1000,
          },
        },
      },
      [
        'Ready=True MinFreeAvailable: 1 free engine ready (minFree 1)',
        CONVERGED,
        'Degraded=True RemovalStuck: ace-1 (id-ace-1) cannot be removed after 2 tries, next try in 1s: device or resource busy. The pool runs around it under other names and ports and keeps retrying. To clear it: `docker rm -f ace-1`; if Docker says "device or resource busy", find the process holding its mount (`grep <container id> /proc/*/mountinfo`) or restart dockerd.',
        WITHIN,
      ],
    ],
    [
      'a provisioning problem names its cause',
      { problem: { reason: 'ImageNotFound', message: 'image engine:1 not found', at: NOW - 1000 } },
      [
        'Ready=False NotEnoughFree: 0 of minFree 1 free engines ready',
        SCALING_UP,
        'Degraded=True ImageNotFound: image engine:1 not found',
        WITHIN,
      ],
    ],
    [
      'a provisioning problem with the breaker open: the cause first, the breaker as its effect',
      {
        list: [engine(ace, 1)],
        probes: allReady(ace, [1]),
        breaker: OPEN,
        problem: { reason: 'StartFailed', message: 'exit 1', at: NOW - 1000 },
      },
      [
        'Ready=True MinFreeAvailable: 1 free engine ready (minFree 1)',
        CONVERGED,
        `Degraded=True StartFailed: exit 1; ${BREAKER_OPEN}`,
        WITHIN,
      ],
    ],
    [
      'a VPN pool converged',
      {
        pool: vpnPool,
        list: [engine(vpnPool, 1, { networkMode: 'container:gluetun' })],
        probes: allReady(vpnPool, [1]),
        vpn: {},
      },
      ['Ready=True MinFreeAvailable: 1 free engine ready (minFree 1)', CONVERGED, AS_EXPECTED, WITHIN],
    ],
    [
      'a template change rolling through: the old engine drains, so it is not free',
      { list: [engine(ace, 1, { hash: 'old' })], probes: allReady(ace, [1]) },
      [
        'Ready=False NotEnoughFree: 0 of minFree 1 free engines ready',
        'Progressing=True RollingUpdate: replacing engines made from an older template',
        AS_EXPECTED,
        WITHIN,
      ],
    ],
    [
      'a scale-down waiting for scaleDownDelaySeconds: not converged yet',
      {
        list: [engine(ace, 1), engine(ace, 2, { createdAt: NOW - 1_000 })],
        probes: allReady(ace, [1, 2]),
      },
      [
        'Ready=True MinFreeAvailable: 2 free engines ready (minFree 1)',
        'Progressing=True ScalingDown: 2 engines running, 1 wanted: free engines go after scaleDownDelaySeconds (30s)',
        AS_EXPECTED,
        WITHIN,
      ],
    ],
    [
      'a scale-down',
      { list: [engine(ace, 1), engine(ace, 2)], probes: allReady(ace, [1, 2]) },
      [
        'Ready=True MinFreeAvailable: 2 free engines ready (minFree 1)',
        'Progressing=True Reconciling: 1 action this pass',
        AS_EXPECTED,
        WITHIN,
      ],
    ],
  ])('%s', (_title, c, expected) => {
    expect(lines(status(c))).toEqual(expected);
  });
});

describe('poolStatus: creates held back', () => {
  it.each<[string, Case, string[]]>([
    [
      'by an open breaker',
      { breaker: OPEN },
      [
        `Ready=False CircuitOpen: ${BREAKER_OPEN}`,
        `Progressing=False CircuitOpen: 1 create held back: ${BREAKER_OPEN}`,
        `Degraded=True CircuitOpen: ${BREAKER_OPEN}`,
        WITHIN,
      ],
    ],
    [
      'by a VPN not probed yet',
      { pool: vpnPool, vpn: { phase: 'unknown' } },
      [
        'Ready=False VpnNotReady: VPN "gluetun" has not been probed yet',
        'Progressing=False VpnNotReady: nothing is started until the VPN is usable: VPN "gluetun" has not been probed yet',
        AS_EXPECTED,
        WITHIN,
      ],
    ],
    [
      'by a VPN container that does not exist',
      { pool: vpnPool, vpn: {}, gluetun: null },
      [
        'Ready=False VpnNotReady: VPN container "gluetun" does not exist',
        'Progressing=False VpnNotReady: nothing is started until the VPN is usable: VPN container "gluetun" does not exist',
        AS_EXPECTED,
        WITHIN,
      ],
    ],
    [
      'by a VPN container that is not running',
      { pool: vpnPool, vpn: {}, gluetun: gluetunDetails({ state: 'exited' }) },
      [
        'Ready=False VpnNotReady: VPN container "gluetun" is exited',
        'Progressing=False VpnNotReady: nothing is started until the VPN is usable: VPN container "gluetun" is exited',
        AS_EXPECTED,
        WITHIN,
      ],
    ],
    [
      'by a VPN in emergency (its engines are held, not counted free)',
      {
        pool: vpnPool,
        list: [engine(vpnPool, 1, { networkMode: 'container:gluetun' })],
        probes: allReady(vpnPool, [1]),
        vpn: { phase: 'emergency', lastError: 'control server unreachable', failures: 3 },
      },
      [
        'Ready=False VpnNotReady: VPN "gluetun" is down: control server unreachable',
        'Progressing=False VpnNotReady: nothing is started until the VPN is usable: VPN "gluetun" is down: control server unreachable',
        'Degraded=True VpnDown: VPN "gluetun" is down: control server unreachable',
        WITHIN,
      ],
    ],
    [
      'by a lack of free ports',
      {
        pool: poolSpec({ replicas: '{ minFree: 2, max: 5 }' }),
        setAsidePorts: [19000, 19001, 19002, 19003, 19004, 19005, 19006, 19007, 19008, 19009],
      },
      [
        'Ready=False NotEnoughFree: 0 of minFree 2 free engines ready',
        'Progressing=False PortsExhausted: 2 creates held back: no free host port in 19000-19009',
        'Degraded=True PortsExhausted: no free host port in 19000-19009',
        'ScalingLimited=False WithinLimits: 2 engines wanted, max 5',
      ],
    ],
  ])('says the pool does not progress, and why: %s', (_title, c, expected) => {
    expect(lines(status(c))).toEqual(expected);
  });
});

describe('poolStatus: transitions, counts and sub-objects', () => {
  it('keeps lastTransitionTime while a condition keeps its status, even with another reason', () => {
    const first = status({ list: [engine(ace, 1)], now: NOW });
    const later = status({
      list: [engine(ace, 1)],
      probes: allReady(ace, [1]),
      previous: first.conditions,
      now: NOW + 5_000,
    });
    const at = (s: PoolStatus, type: Condition['type']) => s.conditions.find((c) => c.type === type);
    expect(at(first, 'Ready')).toMatchObject({
      status: 'False',
      lastTransitionTime: '1970-01-01T00:10:00.000Z',
    });
    expect(at(later, 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: '1970-01-01T00:10:05.000Z',
    });
    expect(at(later, 'Degraded')).toMatchObject({
      reason: 'AsExpected',
      lastTransitionTime: '1970-01-01T00:10:00.000Z',
    });
    expect(at(first, 'Progressing')?.reason).toBe('ScalingUp');
    expect(at(later, 'Progressing')).toMatchObject({
      status: 'False',
      lastTransitionTime: '1970-01-01T00:10:05.000Z',
    });
  });

  it('counts engines by API state, leaving exited containers out', () => {
    const pool = poolSpec({ replicas: '{ minFree: 2, min: 1, max: 8, scaleDownDelaySeconds: 30 }' });
    const s = status({
      pool,
      list: [
        engine(pool, 1),
        engine(pool, 2),
        engine(pool, 3),
        engine(pool, 4),
        engine(pool, 5, { hash: 'old' }),
        engine(pool, 6, { state: 'exited' }),
      ],
      probes: {
        ...allReady(pool, [1, 2, 5]),
        'id-ace-3': { ...ready(), consecutiveFailures: 3 },
      },
      streams: { 'id-ace-1': { open: 2 } },
    });
    expect(s.replicas).toEqual({
      total: 5,
      ready: 2,
      free: 1,
      used: 1,
      starting: 1,
      unhealthy: 1,
      draining: 1,
      desired: 3,
      minFree: 2,
      min: 1,
      max: 8,
    });
    expect(s).toMatchObject({ name: 'ace', generation: 2, observedGeneration: 2 });
  });

  it('shows a pool without a VPN as disabled, and a VPN pool with its machine', () => {
    expect(status({}).vpn).toEqual({
      enabled: false,
      container: null,
      phase: 'disabled',
      forwardedPort: null,
      publicIp: null,
      lastError: null,
    });
    expect(
      status({
        pool: vpnPool,
        vpn: { phase: 'recovering', forwardedPort: 40001, publicIp: '203.0.113.7', recoveredAt: NOW },
      }).vpn,
    ).toEqual({
      enabled: true,
      container: 'gluetun',
      phase: 'recovering',
      forwardedPort: 40001,
      publicIp: '203.0.113.7',
      lastError: null,
    });
  });

  it('shows the breaker with its next trial and last failure only when it has them', () => {
    expect(status({}).circuitBreaker).toEqual({ state: 'closed', failures: 0 });
    expect(status({ breaker: OPEN }).circuitBreaker).toEqual({
      state: 'open',
      failures: 5,
      retryAt: '1970-01-01T00:14:00.000Z',
      lastFailure: 'StartFailed: exit 1',
    });
  });
});
