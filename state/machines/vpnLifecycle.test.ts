import { describe, expect, it } from 'vitest';
import { createActor, initialTransition, SimulatedClock, transition } from 'xstate';
import { vpnLifecycleMachine, vpnView } from './vpnLifecycle.js';

const input = { threshold: 3, recoveryMs: 120_000 };
const ok = (at: number, forwardedPort: number | null = 51820) =>
  ({ type: 'PROBE_SUCCEEDED', at, forwardedPort, publicIp: '203.0.113.7' }) as const;
const failed = (at: number) => ({ type: 'PROBE_FAILED', at, reason: 'timeout' }) as const;

describe('VPN lifecycle', () => {
  it('goes unknown -> healthy on a good probe, and emergency after the threshold of failures (pure paths)', () => {
    let [snapshot] = initialTransition(vpnLifecycleMachine, input);
    expect(snapshot.value).toBe('unknown');
    [snapshot] = transition(vpnLifecycleMachine, snapshot, ok(0));
    expect(vpnView(snapshot)).toMatchObject({ phase: 'healthy', forwardedPort: 51820 });
    for (const at of [1, 2]) [snapshot] = transition(vpnLifecycleMachine, snapshot, failed(at));
    expect(snapshot.value).toBe('healthy');
    [snapshot] = transition(vpnLifecycleMachine, snapshot, failed(3));
    expect(vpnView(snapshot)).toMatchObject({
      phase: 'emergency',
      forwardedPort: null,
      lastError: 'timeout',
    });
  });

  it('keeps the last real port through a momentary 0 while healthy', () => {
    let [snapshot] = initialTransition(vpnLifecycleMachine, input);
    [snapshot] = transition(vpnLifecycleMachine, snapshot, ok(0, 40000));
    [snapshot] = transition(vpnLifecycleMachine, snapshot, ok(1, null));
    expect(vpnView(snapshot).forwardedPort).toBe(40000);
    [snapshot] = transition(vpnLifecycleMachine, snapshot, ok(2, 40001));
    expect(vpnView(snapshot).forwardedPort).toBe(40001);
  });

  it('recovers through a stabilisation window, restarted by any new failure, with the new port as baseline', () => {
    const clock = new SimulatedClock();
    const vpn = createActor(vpnLifecycleMachine, { clock, input }).start();
    vpn.send(ok(clock.now(), 40000));
    for (let i = 0; i < 3; i++) vpn.send(failed(clock.now()));
    expect(vpnView(vpn.getSnapshot())).toMatchObject({ phase: 'emergency', forwardedPort: null });
    clock.increment(10_000);
    vpn.send(ok(clock.now(), 45000));
    expect(vpnView(vpn.getSnapshot())).toMatchObject({
      phase: 'recovering',
      forwardedPort: 45000,
      recoveredAt: 10_000,
    });
    clock.increment(100_000);
    vpn.send(failed(clock.now()));
    clock.increment(119_999);
    expect(vpn.getSnapshot().value).toBe('recovering');
    clock.increment(1);
    expect(vpnView(vpn.getSnapshot())).toMatchObject({ phase: 'healthy', forwardedPort: 45000 });
  });

  it('falls back to emergency when failures reach the threshold while recovering', () => {
    const clock = new SimulatedClock();
    const vpn = createActor(vpnLifecycleMachine, { clock, input }).start();
    for (let i = 0; i < 3; i++) vpn.send(failed(clock.now()));
    vpn.send(ok(clock.now()));
    for (let i = 0; i < 3; i++) vpn.send(failed(clock.now()));
    expect(vpn.getSnapshot().value).toBe('emergency');
  });
});
