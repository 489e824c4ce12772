import { describe, expect, it } from 'vitest';
import type { StreamFacts } from '../reconcilers/engines.js';
import type { VpnView } from '../state/machines/vpnLifecycle.js';
import type { DockerContainerDetails, DockerContainerSummary } from '../state/observed.js';
import type { PoolSpec } from '../state/spec/index.js';
import {
  engine,
  gluetunDetails,
  poolSpec,
  ready,
  view,
  vpnExtra,
  vpnState,
  world,
} from '../test/support/fixtures.js';
import { type Action, formatPlan } from './actions.js';
import { snapshotPool } from './engines.js';
import { reconcileVpn } from './vpn.js';

// Every decision of the VPN reconciler, one row each: an engine bound to a namespace that is gone, an
// engine older than its VPN container, the forwarded engine after a port change, and the restarts
// after a reconnect (a quarter at a time, free engines first), plus every case in which it holds off.

const MIN = 60_000;
const NOW = 10 * MIN;
const VPN_STARTED = 5 * MIN;
const plain = poolSpec({ extra: vpnExtra() });
const forwarding = poolSpec({ extra: vpnExtra({ forwardedPort: true }) });
const noRestarts = poolSpec({ extra: vpnExtra({ restartEnginesOnReconnect: false }) });
const noVpn = poolSpec();

/** An engine of `pool` in the namespace of the current Gluetun container, started after it. */
function bound(pool: PoolSpec, index: number, options: Parameters<typeof engine>[2] = {}) {
  return engine(pool, index, { networkMode: 'container:id-gluetun', ...options });
}

interface Case {
  readonly pool?: PoolSpec;
  readonly list: DockerContainerSummary[];
  /** Docker's inspect of the VPN container; null when it does not exist. */
  readonly gluetun?: DockerContainerDetails | null;
  /** When each engine last started, by container id (null: not known); 6 minutes unless told. */
  readonly startedAt?: Record<string, number | null>;
  readonly machine?: Partial<VpnView>;
  /** Engines (by index) that have not answered a probe yet; every other one is ready. */
  readonly starting?: number[];
  readonly streams?: Record<string, StreamFacts>;
}

function decide(c: Case): string[] {
  const pool = c.pool ?? plain;
  const startedAt = Object.entries({
    ...Object.fromEntries(c.list.map((e) => [e.Id, 6 * MIN])),
    ...c.startedAt,
  }).filter((entry): entry is [string, number] => entry[1] !== null);
  const starting = new Set((c.starting ?? []).map((i) => `id-${pool.name}-${i}`));
  const observed = world(c.list, {
    vpns: {
      gluetun: c.gluetun === null ? undefined : (c.gluetun ?? gluetunDetails({ startedAt: VPN_STARTED })),
    },
    startedAt: Object.fromEntries(startedAt),
  });
  const machineView = view({
    probes: Object.fromEntries(c.list.filter((e) => !starting.has(e.Id)).map((e) => [e.Id, ready()])),
    ...(c.streams ? { streams: c.streams } : {}),
    vpns: { [pool.name]: vpnState(c.machine) },
  });
  const { intents } = reconcileVpn(snapshotPool(pool, observed, machineView, NOW));
  return formatPlan(intents.filter((i): i is Action => i.kind !== 'create'));
}

describe('reconcileVpn: when it holds off', () => {
  it.each<[string, Case]>([
    ['a pool without a VPN', { pool: noVpn, list: [engine(noVpn, 1)] }],
    [
      'the VPN container does not exist (the VPN gate holds the pool; nothing to rejoin)',
      { list: [bound(plain, 1, { networkMode: 'container:old-id' })], gluetun: null },
    ],
    [
      'the VPN container is not running',
      {
        list: [bound(plain, 1, { networkMode: 'container:old-id' })],
        gluetun: gluetunDetails({ state: 'exited', startedAt: VPN_STARTED }),
      },
    ],
    [
      'engines joined to the current container by id, by short id or by name',
      {
        list: [
          bound(plain, 1),
          bound(plain, 2, { networkMode: 'container:id-glu' }),
          bound(plain, 3, { networkMode: 'container:gluetun' }),
        ],
      },
    ],
    [
      'an exited engine in an old namespace (the replicas reconciler removes it)',
      { list: [bound(plain, 1, { state: 'exited', networkMode: 'container:old-id' })] },
    ],
    ['an engine whose start time is not known', { list: [bound(plain, 1)], startedAt: { 'id-ace-1': null } }],
    [
      'the forwarded engine on the current port',
      {
        pool: forwarding,
        list: [bound(forwarding, 1, { forwarded: true, p2pPort: 40001 })],
        machine: { forwardedPort: 40001 },
      },
    ],
    [
      'a port change while the VPN recovers (the port seen then is the new baseline)',
      {
        pool: forwarding,
        list: [bound(forwarding, 1, { forwarded: true, p2pPort: 40000 })],
        machine: { phase: 'recovering', forwardedPort: 40001, recoveredAt: 5 * MIN },
      },
    ],
    [
      'a port change before any port is known',
      { pool: forwarding, list: [bound(forwarding, 1, { forwarded: true, p2pPort: 40000 })] },
    ],
    [
      'a forwarded label in a pool that does not forward',
      {
        list: [bound(plain, 1, { forwarded: true, p2pPort: 40000 })],
        machine: { forwardedPort: 40001 },
      },
    ],
    [
      'restarts after a reconnect while an engine is starting',
      {
        list: [bound(plain, 1), bound(plain, 2)],
        starting: [2],
        machine: { phase: 'recovering', recoveredAt: 7 * MIN },
      },
    ],
    [
      'restarts after a reconnect with restartEnginesOnReconnect: false',
      {
        pool: noRestarts,
        list: [bound(noRestarts, 1)],
        machine: { phase: 'recovering', recoveredAt: 7 * MIN },
      },
    ],
    [
      'restarts after a reconnect during a new emergency',
      { list: [bound(plain, 1)], machine: { phase: 'emergency', recoveredAt: 7 * MIN } },
    ],
    [
      'restarts after another reconnect within a minute of the last restart (a VPN that flaps)',
      { list: [bound(plain, 1)], startedAt: { 'id-ace-1': 9.5 * MIN }, machine: { recoveredAt: 9.75 * MIN } },
    ],
    [
      'restarts after a reconnect of engines started since',
      { list: [bound(plain, 1)], startedAt: { 'id-ace-1': 8 * MIN }, machine: { recoveredAt: 7 * MIN } },
    ],
  ])('does nothing: %s', (_title, c) => {
    expect(decide(c)).toEqual([]);
  });
});

describe('reconcileVpn: what it decides', () => {
  const restartedAt = '1970-01-01T00:05:00.000Z';
  const reconnected = (at: string) =>
    `VPN reconnected at ${at}; restarting engines a few at a time, free ones first`;
  it.each<[string, Case, string[]]>([
    [
      'removes an engine bound to a recreated VPN container, even one older than it',
      {
        list: [bound(plain, 1, { networkMode: 'container:old-id' }), bound(plain, 2)],
        startedAt: { 'id-ace-1': 4 * MIN },
      },
      ['remove ace-1 (VPN container "gluetun" was recreated; the engine is bound to its old namespace)'],
    ],
    [
      'restarts an engine started before its VPN container restarted',
      {
        list: [bound(plain, 1, { networkMode: 'container:gluetun' }), bound(plain, 2)],
        startedAt: { 'id-ace-1': 4 * MIN },
      },
      [`restart ace-1 (VPN container "gluetun" restarted at ${restartedAt}; the engine lost its network)`],
    ],
    [
      'removes the forwarded engine when the forwarded port changed',
      {
        pool: forwarding,
        list: [bound(forwarding, 1, { forwarded: true, p2pPort: 40000 }), bound(forwarding, 2)],
        machine: { forwardedPort: 40001 },
      },
      ['remove ace-1 (forwarded port changed from 40000 to 40001)'],
    ],
    [
      'removes a forwarded engine that has no P2P port label',
      {
        pool: forwarding,
        list: [bound(forwarding, 1, { forwarded: true })],
        machine: { forwardedPort: 40001 },
      },
      ['remove ace-1 (forwarded port changed from none to 40001)'],
    ],
    [
      'removes an engine in an old namespace once, whatever its port',
      {
        pool: forwarding,
        list: [bound(forwarding, 1, { forwarded: true, p2pPort: 40000, networkMode: 'container:old-id' })],
        machine: { forwardedPort: 40001 },
      },
      ['remove ace-1 (VPN container "gluetun" was recreated; the engine is bound to its old namespace)'],
    ],
    [
      'after a reconnect restarts a quarter of the engines (rounded up), free ones first, then the lowest numbers',
      {
        list: [1, 2, 3, 4, 5].map((i) => bound(plain, i)),
        streams: { 'id-ace-1': { open: 1 }, 'id-ace-2': { open: 2 } },
        machine: { phase: 'recovering', recoveredAt: 7 * MIN },
      },
      [
        `restart ace-3 (${reconnected('1970-01-01T00:07:00.000Z')})`,
        `restart ace-4 (${reconnected('1970-01-01T00:07:00.000Z')})`,
      ],
    ],
    [
      'after a reconnect restarts used engines too, fewest streams first, once the free ones are done',
      {
        list: [1, 2, 3].map((i) => bound(plain, i)),
        streams: { 'id-ace-1': { open: 2 }, 'id-ace-2': { open: 1 } },
        startedAt: { 'id-ace-3': 8 * MIN },
        machine: { recoveredAt: 7 * MIN },
      },
      [`restart ace-2 (${reconnected('1970-01-01T00:07:00.000Z')})`],
    ],
    [
      'after a reconnect restarts an engine last restarted more than a minute ago',
      { list: [bound(plain, 1)], startedAt: { 'id-ace-1': 8.5 * MIN }, machine: { recoveredAt: 9.75 * MIN } },
      [`restart ace-1 (${reconnected('1970-01-01T00:09:45.000Z')})`],
    ],
    [
      'restarts for the VPN restart and for the reconnect, never the same engine twice',
      {
        list: [bound(plain, 1), bound(plain, 2)],
        startedAt: { 'id-ace-1': 4 * MIN },
        machine: { phase: 'recovering', recoveredAt: 7 * MIN },
      },
      [
        `restart ace-1 (VPN container "gluetun" restarted at ${restartedAt}; the engine lost its network)`,
        `restart ace-2 (${reconnected('1970-01-01T00:07:00.000Z')})`,
      ],
    ],
  ])('%s', (_title, c, expected) => {
    expect(decide(c)).toEqual(expected);
  });
});
