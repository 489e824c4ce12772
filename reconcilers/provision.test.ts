import { describe, expect, it } from 'vitest';
import { allReady, desired, engine, poolSpec, view, world } from '../test/support/fixtures.js';
import { formatPlan } from './actions.js';
import { planTick } from './plan.js';
import { provisionRefusal } from './provision.js';

// One more engine on request (`POST /provision/acestream`): planned by the replicas reconciler on top of
// what minFree wants, within max; refused, with the orchestrator's codes, when the pool cannot take it.

const MIN = 60_000;
const pool = poolSpec({ replicas: '{ minFree: 1, max: 3, scaleDownDelaySeconds: 30 }' });

function plan(
  list: ReturnType<typeof engine>[],
  options: Parameters<typeof view>[0] & { now?: number } = {},
) {
  const { now = 10 * MIN, ...machineView } = options;
  return planTick({ spec: desired(pool), world: world(list), view: view(machineView), now });
}

describe('provision requests in the plan', () => {
  it.each([
    [
      'starts one more engine when the pool is converged',
      [engine(pool, 1)],
      { probes: allReady(pool, [1]), provisionRequests: { ace: 1 } },
      [
        'create ace-2 on port 19001 (provision: one more engine asked for through the API (0 used, 1 running))',
      ],
    ],
    [
      'comes on top of what minFree wants',
      [engine(pool, 1)],
      { probes: allReady(pool, [1]), streams: { 'id-ace-1': { open: 1 } }, provisionRequests: { ace: 1 } },
      [
        'create ace-2 on port 19001 (scale up: 1 used + minFree 1 = 2 wanted, 1 running or starting)',
        'create ace-3 on port 19002 (provision: one more engine asked for through the API (1 used, 1 running))',
      ],
    ],
    [
      'never goes above max',
      [engine(pool, 1), engine(pool, 2)],
      { probes: allReady(pool, [1, 2]), provisionRequests: { ace: 3 } },
      [
        'create ace-3 on port 19002 (provision: one more engine asked for through the API (0 used, 2 running))',
      ],
    ],
    [
      'does not scale down in a pass that starts requested engines',
      [engine(pool, 1), engine(pool, 2)],
      { probes: allReady(pool, [1, 2]), provisionRequests: { ace: 1 } },
      [
        'create ace-3 on port 19002 (provision: one more engine asked for through the API (0 used, 2 running))',
      ],
    ],
  ])('%s', (_title, list, machineView, expected) => {
    const result = plan(list, machineView);
    expect(formatPlan(result.actions)).toEqual(expected);
    const requested = result.actions.filter((a) => a.kind === 'create' && a.requested);
    expect(requested).toHaveLength(expected.filter((line) => line.includes('provision:')).length);
  });

  it('lets a requested engine scale down like any free one once the request is answered', () => {
    const two = [engine(pool, 1, { createdAt: 10 * MIN }), engine(pool, 2, { createdAt: 10 * MIN })];
    const at = (now: number) => formatPlan(plan(two, { probes: allReady(pool, [1, 2]), now }).actions);
    expect(at(10 * MIN + 29_000)).toEqual([]);
    expect(at(10 * MIN + 30_000)).toEqual([
      'remove ace-2 (scale down: 0 used + minFree 1 = 1 wanted, 2 running; free for 30s)',
    ]);
  });
});

describe('provisionRefusal', () => {
  const refusal = (result: ReturnType<typeof plan>, pending = 0, now = 10 * MIN) =>
    provisionRefusal(result.pools.get('ace')!, pending, now);

  it('allows a pool with room and a closed breaker', () => {
    expect(refusal(plan([engine(pool, 1)], { probes: allReady(pool, [1]) }))).toBeUndefined();
  });

  it('refuses with max_capacity at max, requests already waiting counted', () => {
    const two = plan([engine(pool, 1), engine(pool, 2)], { probes: allReady(pool, [1, 2]) });
    expect(refusal(two)).toBeUndefined();
    expect(refusal(two, 1)).toEqual({
      code: 'max_capacity',
      message:
        'pool "ace" runs 2 engines and 1 more are being started: max 3; wait for streams to end or raise replicas.max',
      recoveryEtaSeconds: null,
      canRetry: false,
      shouldWait: true,
    });
  });

  it('refuses with circuit_breaker while the breaker is open, with the time until its trial', () => {
    const open = plan([engine(pool, 1)], {
      probes: allReady(pool, [1]),
      breakers: {
        ace: {
          state: 'open',
          failures: 5,
          createsAllowed: 0,
          failuresToOpen: 0,
          retryAt: 10 * MIN + 42_500,
          lastFailure: 'StartFailed',
        },
      },
    });
    expect(refusal(open)).toMatchObject({
      code: 'circuit_breaker',
      recoveryEtaSeconds: 43,
      canRetry: false,
      shouldWait: true,
    });
    expect(refusal(open)?.message).toMatch(
      /^pool "ace": circuit breaker open until \S+ after 5 provisioning failures \(last: StartFailed\)$/,
    );
  });

  it('refuses with vpn_disconnected while the VPN is not usable', () => {
    const vpnPool = poolSpec({
      extra: '  vpn:\n    gluetun:\n      container: gluetun\n      controlUrl: http://gluetun:8000\n',
    });
    const result = planTick({ spec: desired(vpnPool), world: world([]), view: view(), now: 0 });
    expect(provisionRefusal(result.pools.get('ace')!, 0, 0)).toMatchObject({
      code: 'vpn_disconnected',
      recoveryEtaSeconds: 60,
      canRetry: true,
      shouldWait: true,
    });
  });
});
