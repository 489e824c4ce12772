import { type RemovalFailure, removalRetryAt } from '../../reconcilers/stuck.js';
import type { ObservedWorld } from '../../state/observed.js';
import type { Logger } from '../observability/logger.js';
import type { Outcome } from './executor.js';

// The removals Docker refused, remembered until Docker shows the container gone: what the planner
// holds names and ports for and retries with backoff (reconcilers/stuck.ts).

/** Failed removals by container id. */
export class RemovalFailures {
  private readonly failures = new Map<string, RemovalFailure & { readonly name: string }>();

  constructor(private readonly logger: Logger) {}

  /** Records the removes of a pass: a failure adds a try, a success forgets the container. */
  record(outcomes: readonly Outcome[], now: number): void {
    for (const outcome of outcomes) {
      const { action } = outcome;
      if (action.kind !== 'remove') continue;
      if (outcome.ok) {
        const before = this.failures.get(action.containerId);
        if (before) this.gone(action.containerId, before);
        continue;
      }
      if (outcome.skipped || outcome.unavailable) continue;
      const before = this.failures.get(action.containerId);
      const failure = {
        name: action.name,
        error: outcome.error,
        attempts: (before?.attempts ?? 0) + 1,
        firstFailedAt: before?.firstFailedAt ?? now,
        lastFailedAt: now,
      };
      this.failures.set(action.containerId, failure);
      this.logger.warn(
        {
          pool: action.pool,
          engine: action.name,
          containerId: action.containerId.slice(0, 12),
          attempts: failure.attempts,
          retryAt: new Date(removalRetryAt(failure)).toISOString(),
          error: outcome.error,
        },
        `Docker cannot remove ${action.name}; its name and port stay held, the pool goes on around it and the removal is retried`,
      );
    }
  }

  /** Forgets the containers Docker no longer lists (removed at last, by us or by hand). */
  sync(world: ObservedWorld): void {
    if (this.failures.size === 0) return;
    const present = new Set(world.containers.map((c) => c.containerId));
    for (const [id, failure] of this.failures) if (!present.has(id)) this.gone(id, failure);
  }

  private gone(id: string, failure: RemovalFailure & { readonly name: string }): void {
    this.failures.delete(id);
    this.logger.info(
      { engine: failure.name, containerId: id.slice(0, 12), attempts: failure.attempts },
      `${failure.name} is gone at last; its name and port are free again`,
    );
  }

  view(): ReadonlyMap<string, RemovalFailure> {
    return this.failures;
  }
}
