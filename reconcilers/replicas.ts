import { plural } from '../state/words.js';
import type { Intent, RemoveAction } from './actions.js';
import type { EngineStatus, PoolSnapshot } from './engines.js';

// How many engines a pool should run, and which ones go. An engine with no open stream is free;
// starting engines count as free, so nothing overshoots. The pool keeps free >= minFree and
// min <= total <= max; when they collide, max wins and the pool says so (never an error).

/** Why a pool runs fewer engines than used + minFree asks for. */
export interface CapacityLimit {
  readonly reason: 'MaxReached' | 'PortsExhausted';
  readonly message: string;
}

/** What the replicas reconciler decided for one pool. */
export interface ReplicaDecision {
  readonly intents: readonly Intent[];
  /** The number of engines the pool should run now. */
  readonly desired: number;
  readonly limit?: CapacityLimit;
  /** When a waiting decision becomes due (a scale-down delay ends, a startup times out). */
  readonly requeueAt?: number;
}

const byIndexDescending = (a: EngineStatus, b: EngineStatus) =>
  (b.engine.index ?? Number.MAX_SAFE_INTEGER) - (a.engine.index ?? Number.MAX_SAFE_INTEGER);

function remove(status: EngineStatus, reason: string, failure?: RemoveAction['failure']): RemoveAction {
  const { engine } = status;
  return {
    kind: 'remove',
    pool: engine.pool,
    containerId: engine.containerId,
    name: engine.name,
    reason,
    ...(failure ? { failure } : {}),
  };
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}

/**
 * Decides creates and removals for one pool. `excluded` are engines another reconciler already acts on
 * in this plan (they count as gone).
 */
export function reconcileReplicas(
  snapshot: PoolSnapshot,
  excluded: ReadonlySet<string> = new Set(),
): ReplicaDecision {
  const { pool, now } = snapshot;
  const { minFree, min, max, scaleDownDelaySeconds } = pool.replicas;
  const intents: Intent[] = [];
  let requeueAt: number | undefined;
  const wakeAt = (at: number) => {
    requeueAt = requeueAt === undefined ? at : Math.min(requeueAt, at);
  };
  const vpnHeld = snapshot.vpn !== undefined && !snapshot.vpn.usable;
  // Why one pass sorting the engines by phase rather than a filter per phase: this runs for every
  // pool on every pass, and each filter was one more array per pool.
  const exited: EngineStatus[] = [];
  let liveCount = 0;
  let firstStartupDeadline: number | undefined;
  let forwardedLive = false;
  const timedOut: EngineStatus[] = [];
  const healthy: EngineStatus[] = [];
  const unhealthy: EngineStatus[] = [];
  let starting = 0;
  let used = 0;
  for (const status of snapshot.engines) {
    if (excluded.has(status.engine.containerId)) continue;
    if (status.phase === 'exited') {
      exited.push(status);
      continue;
    }
    liveCount++;
    if (status.startupDeadline !== undefined)
      firstStartupDeadline = Math.min(firstStartupDeadline ?? status.startupDeadline, status.startupDeadline);
    if (status.engine.forwarded && status.phase !== 'timedOut') forwardedLive = true;
    if (status.streams > 0 && status.phase !== 'unhealthy') used++;
    if (status.phase === 'timedOut') timedOut.push(status);
    else if (status.phase === 'unhealthy') unhealthy.push(status);
    else {
      healthy.push(status);
      if (status.phase === 'starting') starting++;
    }
  }

  for (const status of exited) {
    const code = status.engine.exitCode === undefined ? '' : ` with code ${status.engine.exitCode}`;
    const failure =
      status.everReady || vpnHeld || !status.provisionedByThisRun ? undefined : 'ExitedBeforeReady';
    const { state } = status.engine;
    const why =
      state === 'created'
        ? 'never started'
        : state === 'dead' || state === 'removing'
          ? `${state} in Docker`
          : `exited${code}`;
    intents.push(remove(status, why, failure));
  }
  const desiredRaw = Math.max(min, used + minFree);
  const desired = Math.min(desiredRaw, max);
  // Why: behind a VPN that is down, engines cannot become ready or answer probes; judging them would
  // remove the whole pool. Only containers that are already gone are cleaned up.
  if (vpnHeld) return { intents, desired };

  for (const status of timedOut) {
    intents.push(
      remove(
        status,
        `not ready within startupTimeoutSeconds (${pool.template.health.startupTimeoutSeconds}s)`,
        'StartupTimeout',
      ),
    );
  }
  if (firstStartupDeadline !== undefined) wakeAt(firstStartupDeadline + 1);

  const cap = Math.min(max, snapshot.ports.capacity);
  const total = liveCount - timedOut.length;
  const room = cap - total;
  const canCreate = snapshot.breaker.createsAllowed > 0;
  let limit: CapacityLimit | undefined;
  if (desiredRaw > max) {
    limit = {
      reason: 'MaxReached',
      message: `${plural(used, 'engine')} in use + minFree ${minFree} = ${used + minFree} wanted, capped at max ${max}`,
    };
  } else if (desired > cap) {
    limit = {
      reason: 'PortsExhausted',
      message: `${plural(desired, 'engine')} wanted but only ${snapshot.ports.capacity} usable host ports${pool.vpn ? ' published by the VPN' : ''} in ${pool.hostRange.start}-${pool.hostRange.end}`,
    };
  }

  const forwardedPort = pool.vpn?.gluetun.forwardedPort ? (snapshot.vpn?.view.forwardedPort ?? null) : null;
  const needsForwarded = forwardedPort !== null && !forwardedLive;
  let forwardedPlanned = false;
  let creates = 0;
  const create = (reason: string, requested = false) => {
    const forwarded = needsForwarded && !forwardedPlanned;
    forwardedPlanned ||= forwarded;
    creates++;
    intents.push({ kind: 'create', pool: pool.name, forwarded, reason, ...(requested ? { requested } : {}) });
  };

  const deficit = Math.min(desired, cap) - healthy.length;
  if (deficit > 0) {
    const count = Math.min(deficit, Math.max(room, 0));
    const why = `${used} used + minFree ${minFree} = ${desired} wanted, ${healthy.length} running or starting`;
    for (let i = 0; i < count; i++) create(`scale up: ${why}`);
    const lacking = deficit - count;
    // Why: a replacement starts before the unhealthy engine goes, unless there is no room for it.
    for (const status of unhealthy.slice(0, lacking)) {
      intents.push(
        remove(
          status,
          `unhealthy (${status.engine.name} failed its probes); no room to start a replacement first`,
        ),
      );
    }
  } else if (unhealthy.length > 0 && starting === 0) {
    for (const status of unhealthy) intents.push(remove(status, 'unhealthy; its replacement is ready'));
  }

  const replaceable = healthy
    .filter((s) => s.outdated !== undefined && s.streams === 0)
    .sort(byIndexDescending);
  if (deficit <= 0 && canCreate && replaceable.length > 0 && starting === 0) {
    const victim = replaceable[0]!;
    const why = `${victim.outdated}`;
    if (victim.engine.forwarded) {
      intents.push(remove(victim, `${why}; the forwarded port must be free before its replacement starts`));
    } else if (healthy.length > desired) {
      intents.push(remove(victim, `${why}; replaced by a new engine`));
    } else if (room > 0) {
      create(`rolling update: start a new engine before replacing ${victim.engine.name} (${why})`);
    } else {
      intents.push(remove(victim, `${why}; at max, so replaced in place`));
    }
  } else if (deficit <= 0 && needsForwarded && canCreate) {
    if (room > 0) create(`the forwarded port ${forwardedPort} has no engine`);
    else {
      const victim = healthy.filter((s) => s.streams === 0 && s.phase === 'ready').sort(byIndexDescending)[0];
      if (victim) intents.push(remove(victim, `make room for the engine of forwarded port ${forwardedPort}`));
    }
  } else if (deficit < 0 && replaceable.length === 0 && snapshot.requested === 0) {
    // Why: the victims are the highest-numbered free engines, and a victim still starting or not free
    // long enough is waited for rather than swapped for a lower one, so the names left stay 1..N.
    const victims = healthy
      .filter((s) => s.streams === 0 && !(forwardedPort !== null && s.engine.forwarded))
      .sort(byIndexDescending)
      .slice(0, healthy.length - desired);
    for (const status of victims) {
      if (status.phase !== 'ready') continue;
      const eligibleAt =
        Math.max(status.freeSince, snapshot.lastStreamEndedAt ?? 0) + scaleDownDelaySeconds * 1000;
      if (eligibleAt > now) {
        wakeAt(eligibleAt);
        continue;
      }
      intents.push(
        remove(
          status,
          `scale down: ${used} used + minFree ${minFree} = ${desired} wanted, ${healthy.length} running; free for ${seconds(now - status.freeSince)}`,
        ),
      );
    }
  }
  // Why: an engine asked for through the API comes on top of what minFree wants, within max; once it
  // is started the request is answered and the surplus is an ordinary free engine that scales down
  // after scaleDownDelaySeconds. Requests beyond max are not planned; the shell refuses them.
  const granted = Math.min(snapshot.requested, Math.max(room - creates, 0));
  for (let i = 0; i < granted; i++)
    create(`provision: one more engine asked for through the API (${used} used, ${total} running)`, true);
  return { intents, desired, ...(limit ? { limit } : {}), ...(requeueAt !== undefined ? { requeueAt } : {}) };
}
