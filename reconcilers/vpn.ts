import { iso } from '../state/clock.js';
import { namespaceDonor } from '../state/observed.js';
import type { Intent } from './actions.js';
import type { EngineStatus, PoolSnapshot } from './engines.js';

// Decisions that only a VPN pool has, by what Docker shows of the VPN container and the VPN machine's
// phase: engines bound to a namespace that is gone, the forwarded engine after a port change, and the
// gentle restart of engines after the VPN reconnected.

/** What the VPN reconciler decided for one pool. */
export interface VpnDecision {
  readonly intents: readonly Intent[];
}

const NONE: VpnDecision = { intents: [] };

/** Restarts at most this share of a pool's engines at once after a reconnect, so it is never a storm. */
const RECONNECT_RESTART_SHARE = 4;
/**
 * An engine restarted less than this long ago is not restarted again for a reconnect. Why: a VPN that
 * flaps faster than its recovery window recovers again and again; restarting every engine at each
 * recovery was a storm (2 engines, 4 flaps in 15 s: 8 restarts). Now each engine restarts at most once
 * a minute; one that only started when it was created is restarted at once.
 */
const RECONNECT_RESTART_MIN_INTERVAL_MS = 60_000;

/** Started again after its creation (Docker's creation time has whole seconds), less than a minute ago. */
function restartedRecently(status: EngineStatus, now: number): boolean {
  const { startedAt, createdAt } = status.engine;
  return (
    startedAt !== undefined &&
    startedAt - createdAt > 2_000 &&
    now - startedAt < RECONNECT_RESTART_MIN_INTERVAL_MS
  );
}

/** Decides the VPN-specific removals and restarts of one pool. */
export function reconcileVpn(snapshot: PoolSnapshot): VpnDecision {
  const settings = snapshot.pool.vpn?.gluetun;
  const vpn = snapshot.vpn;
  if (!settings || !vpn?.observed.exists || vpn.observed.state !== 'running') return NONE;
  const { observed, view } = vpn;
  const intents: Intent[] = [];
  const handled = new Set<string>();
  const act = (status: EngineStatus, kind: 'remove' | 'restart', reason: string) => {
    handled.add(status.engine.containerId);
    const { engine } = status;
    intents.push({ kind, pool: engine.pool, containerId: engine.containerId, name: engine.name, reason });
  };
  const live = snapshot.engines.filter((s) => s.phase !== 'exited');

  for (const status of live) {
    const donor = namespaceDonor(status.engine.networkMode);
    const boundElsewhere =
      donor !== undefined && donor !== observed.name && !(observed.containerId ?? '').startsWith(donor);
    if (boundElsewhere) {
      // Why: Docker keeps the donor's id in the engine's network mode; a restart would try to join a
      // namespace that no longer exists, so only a new container can join the new one.
      act(
        status,
        'remove',
        `VPN container "${observed.name}" was recreated; the engine is bound to its old namespace`,
      );
    } else if (
      status.engine.startedAt !== undefined &&
      observed.startedAt !== undefined &&
      status.engine.startedAt < observed.startedAt
    ) {
      act(
        status,
        'restart',
        `VPN container "${observed.name}" restarted at ${iso(observed.startedAt)}; the engine lost its network`,
      );
    }
  }

  const current = view.forwardedPort;
  if (view.phase === 'healthy' && settings.forwardedPort && current !== null) {
    for (const status of live) {
      const { engine } = status;
      if (engine.forwarded && !handled.has(engine.containerId) && engine.p2pPort !== current) {
        act(status, 'remove', `forwarded port changed from ${engine.p2pPort ?? 'none'} to ${current}`);
      }
    }
  }

  const recoveredAt = view.recoveredAt;
  if (
    settings.restartEnginesOnReconnect &&
    recoveredAt !== null &&
    (view.phase === 'recovering' || view.phase === 'healthy') &&
    !live.some((s) => s.phase === 'starting')
  ) {
    const stale = live
      .filter((s) => !handled.has(s.engine.containerId))
      .filter((s) => s.engine.startedAt !== undefined && s.engine.startedAt < recoveredAt)
      .filter((s) => !restartedRecently(s, snapshot.now))
      .sort((a, b) => a.streams - b.streams || (a.engine.index ?? 0) - (b.engine.index ?? 0));
    const batch = Math.max(1, Math.ceil(live.length / RECONNECT_RESTART_SHARE));
    for (const status of stale.slice(0, batch)) {
      act(
        status,
        'restart',
        `VPN reconnected at ${iso(recoveredAt)}; restarting engines a few at a time, free ones first`,
      );
    }
  }
  return { intents };
}
