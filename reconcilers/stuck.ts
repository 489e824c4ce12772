import { backoffMs } from '../state/backoff.js';
import type { DockerState, ObservedEngine } from '../state/observed.js';
import type { Intent } from './actions.js';
import type { PoolSnapshot } from './engines.js';

// Containers Docker cannot remove. A removal that failed (an overlay2 mount still busy, a removal
// already in progress, a daemon refusing the delete) leaves the container in Docker's list, often as
// `dead` or `removing`; it still holds its name and, by its label, its port. The pool converges around
// it: its name and port stay held until Docker shows it gone, its removal is retried with backoff, and
// the pool's Degraded condition names it with Docker's error and what the operator can do.

/** What the shell remembers of the failed removals of one container. */
export interface RemovalFailure {
  /** Docker's last error. */
  readonly error: string;
  /** Failed attempts in a row. */
  readonly attempts: number;
  readonly firstFailedAt: number;
  readonly lastFailedAt: number;
}

/** The first retry waits this long, then each one twice as long, up to {@link REMOVAL_RETRY_MAX_MS}. */
export const REMOVAL_RETRY_BASE_MS = 1_000;
export const REMOVAL_RETRY_MAX_MS = 60_000;

/** When the next removal of a container whose removals failed may be tried. */
export function removalRetryAt(failure: RemovalFailure): number {
  return failure.lastFailedAt + backoffMs(failure.attempts, REMOVAL_RETRY_BASE_MS, REMOVAL_RETRY_MAX_MS);
}

/**
 * Docker's own word that a container is half-removed (`dead`): its name and port are held from the
 * first sight. Why not `removing`: every removal passes through it for a moment, and holding the name
 * then would move the replacement of a removed engine to a higher name; a removal that stays in
 * progress is stuck once our own removal of it fails (Docker answers 409).
 */
export function isStuckState(state: DockerState): boolean {
  return state === 'dead';
}

/** An engine whose name and port stay held until Docker shows it gone. */
export interface StuckEngine {
  readonly engine: ObservedEngine;
  /** The failed removals, when this controller tried; undefined for one Docker shows stuck untried. */
  readonly failure?: RemovalFailure;
  /** When its removal may be tried again (now or earlier: due). */
  readonly retryAt: number;
}

/** The stuck engines among `engines`: those whose removal failed and those Docker shows `dead`. */
export function stuckEngines(
  engines: readonly ObservedEngine[],
  failures: ReadonlyMap<string, RemovalFailure>,
  now: number,
): StuckEngine[] {
  const stuck: StuckEngine[] = [];
  for (const engine of engines) {
    const failure = failures.get(engine.containerId);
    if (failure) stuck.push({ engine, failure, retryAt: removalRetryAt(failure) });
    else if (isStuckState(engine.state)) stuck.push({ engine, retryAt: now });
  }
  return stuck;
}

/**
 * Drops the removals of stuck engines that are not due yet (`retryAt` is when the first of them is)
 * and marks the due ones as retries.
 * Why: a removal Docker refused is retried with backoff, not on every pass. A live engine whose
 * removal waits still runs, so the creates planned to replace it are held too when they would pass max.
 */
export function dueRemovals(
  intents: readonly Intent[],
  snapshot: PoolSnapshot,
  now: number,
): { intents: Intent[]; retryAt?: number } {
  const stuckById = new Map(snapshot.stuck.map((s) => [s.engine.containerId, s]));
  let retryAt: number | undefined;
  const due: Intent[] = [];
  const removed = new Set<string>();
  // Why one loop, and a count of the engines that stay: this runs for every pool on every pass, and
  // the arrays per intent and per engine it used to build were ~7% of a plan's allocation.
  for (const intent of intents) {
    if (intent.kind !== 'remove') {
      due.push(intent);
      continue;
    }
    const stuck = stuckById.get(intent.containerId);
    if (stuck && stuck.retryAt > now) {
      retryAt = Math.min(retryAt ?? stuck.retryAt, stuck.retryAt);
      continue;
    }
    removed.add(intent.containerId);
    due.push(stuck ? { ...intent, retry: true } : intent);
  }
  let staying = 0;
  for (const s of snapshot.engines) if (s.phase !== 'exited' && !removed.has(s.engine.containerId)) staying++;
  let room = snapshot.pool.replicas.max - staying;
  const held = due.filter((intent) => intent.kind !== 'create' || room-- > 0);
  return { intents: held, ...(retryAt !== undefined ? { retryAt } : {}) };
}

/** The Degraded condition's message: each stuck engine with Docker's error, then what to do. */
export function stuckMessage(stuck: readonly StuckEngine[], now: number): string {
  const each = stuck.map(({ engine, failure, retryAt }) => {
    const id = engine.containerId.slice(0, 12);
    if (!failure) return `${engine.name} (${id}) is ${engine.state} in Docker`;
    const next = retryAt > now ? `, next try in ${Math.ceil((retryAt - now) / 1000)}s` : '';
    return `${engine.name} (${id}) cannot be removed after ${failure.attempts} ${failure.attempts === 1 ? 'try' : 'tries'}${next}: ${failure.error}`;
  });
  const names = stuck.map((s) => s.engine.name).join(' ');
  return `${each.join('; ')}. The pool runs around ${stuck.length === 1 ? 'it' : 'them'} under other names and ports and keeps retrying. To clear it: \`docker rm -f ${names}\`; if Docker says "device or resource busy", find the process holding its mount (\`grep <container id> /proc/*/mountinfo\`) or restart dockerd.`;
}
