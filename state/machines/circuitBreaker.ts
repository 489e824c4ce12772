import { assign, type SnapshotFrom, setup } from 'xstate';
import { iso } from '../clock.js';

// The provisioning circuit breaker of one pool. Closed: creates flow. Open after `threshold` consecutive
// provisioning failures: no creates. Half-open after `openMs`: exactly one trial create, which closes it
// when the engine becomes ready and opens it again when it fails. Time comes from the actor's clock.

/** The settings a breaker is made with (from `spec.circuitBreaker` and the startup timeout). */
export interface BreakerInput {
  readonly threshold: number;
  readonly openMs: number;
  /** A trial that neither succeeds nor fails within this time is given up, and another one allowed. */
  readonly trialMs: number;
}

interface BreakerContext extends BreakerInput {
  failures: number;
  openedAt?: number;
  lastFailure?: string;
}

/** Facts the breaker learns, each with the time it happened (from the injected clock). */
export type BreakerEvent =
  | { type: 'PROVISION_FAILED'; reason: string; at: number }
  | { type: 'PROVISION_SUCCEEDED'; at: number }
  | { type: 'TRIAL_STARTED'; at: number }
  | { type: 'RESET_REQUESTED'; at: number }
  | { type: 'TEMPLATE_CHANGED'; at: number }
  | { type: 'SETTINGS_CHANGED'; settings: BreakerInput };

/** The breaker's states. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

const breakerSetup = setup({
  types: {
    input: {} as BreakerInput,
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
  },
  guards: {
    reachedThreshold: ({ context }) => context.failures + 1 >= context.threshold,
  },
  actions: {
    recordFailure: assign(({ context }, params: { reason: string }) => ({
      failures: context.failures + 1,
      lastFailure: params.reason,
    })),
    markOpened: assign((_, params: { at: number }) => ({ openedAt: params.at })),
    resetFailures: assign({ failures: 0, openedAt: undefined, lastFailure: undefined }),
    applySettings: assign((_, params: { settings: BreakerInput }) => ({ ...params.settings })),
    /** A state was entered: the shell provides what to do (log it, wake the loop); the machine says when. */
    announce: (_, _params: { state: BreakerState }) => {},
  },
  delays: {
    coolDown: ({ context }) => context.openMs,
    trialTimeout: ({ context }) => context.trialMs,
  },
});

/** Counts a provisioning failure, with its reason. */
const failure = {
  type: 'recordFailure',
  params: ({ event }: { event: Extract<BreakerEvent, { type: 'PROVISION_FAILED' }> }) => ({
    reason: event.reason,
  }),
} as const;
/** Notes when the breaker opened (its cool-down counts from then). */
const opened = {
  type: 'markOpened',
  params: ({ event }: { event: Extract<BreakerEvent, { type: 'PROVISION_FAILED' }> }) => ({ at: event.at }),
} as const;
/** Back to closed from open or half-open, failures forgotten, and said so. */
const closeAgain = {
  target: 'closed',
  actions: ['resetFailures', { type: 'announce', params: { state: 'closed' } }],
} as const;

export const circuitBreakerMachine = breakerSetup.createMachine({
  id: 'circuitBreaker',
  context: ({ input }) => ({ ...input, failures: 0 }),
  initial: 'closed',
  on: {
    SETTINGS_CHANGED: {
      actions: { type: 'applySettings', params: ({ event }) => ({ settings: event.settings }) },
    },
  },
  states: {
    closed: {
      on: {
        PROVISION_SUCCEEDED: { actions: 'resetFailures' },
        PROVISION_FAILED: [
          { guard: 'reachedThreshold', target: 'open', actions: [failure, opened] },
          { actions: failure },
        ],
        RESET_REQUESTED: { actions: 'resetFailures' },
      },
    },
    open: {
      entry: { type: 'announce', params: { state: 'open' } },
      after: { coolDown: 'halfOpen' },
      on: {
        // Why: the breaker protects against repeating the same failing create; an edited template is new.
        TEMPLATE_CHANGED: 'halfOpen',
        PROVISION_FAILED: { actions: failure },
        RESET_REQUESTED: closeAgain,
      },
    },
    halfOpen: {
      entry: { type: 'announce', params: { state: 'halfOpen' } },
      initial: 'ready',
      on: {
        PROVISION_SUCCEEDED: closeAgain,
        PROVISION_FAILED: { target: 'open', actions: [failure, opened] },
        RESET_REQUESTED: closeAgain,
      },
      states: {
        ready: { on: { TRIAL_STARTED: 'trialing' } },
        trialing: { after: { trialTimeout: 'ready' } },
      },
    },
  },
});

/** The breaker as plain data, for reconcilers, status and metrics. */
export interface BreakerView {
  readonly state: 'closed' | 'open' | 'halfOpen';
  readonly failures: number;
  /** How many creates may start now: unlimited when closed, one trial when half-open, none otherwise. */
  readonly createsAllowed: number;
  /** How many more provisioning failures open it (0 when open). */
  readonly failuresToOpen: number;
  readonly openedAt?: number;
  /** When an open breaker lets the next trial through. */
  readonly retryAt?: number;
  readonly lastFailure?: string;
}

/** The plain view of a breaker snapshot. */
export function breakerView(snapshot: SnapshotFrom<typeof circuitBreakerMachine>): BreakerView {
  const { context } = snapshot;
  const state = snapshot.matches('closed') ? 'closed' : snapshot.matches('open') ? 'open' : 'halfOpen';
  const createsAllowed =
    state === 'closed' ? Number.POSITIVE_INFINITY : snapshot.matches({ halfOpen: 'ready' }) ? 1 : 0;
  return {
    state,
    failures: context.failures,
    createsAllowed,
    failuresToOpen:
      state === 'closed' ? Math.max(1, context.threshold - context.failures) : state === 'halfOpen' ? 1 : 0,
    ...(context.openedAt !== undefined ? { openedAt: context.openedAt } : {}),
    ...(state === 'open' && context.openedAt !== undefined
      ? { retryAt: context.openedAt + context.openMs }
      : {}),
    ...(context.lastFailure !== undefined ? { lastFailure: context.lastFailure } : {}),
  };
}

/** The one wording of a breaker's state, for conditions, plans, refusals and logs. */
export function describeBreaker(breaker: BreakerView): string {
  if (breaker.state === 'closed') return 'circuit breaker closed';
  const why = `after ${breaker.failures} provisioning ${breaker.failures === 1 ? 'failure' : 'failures'}${breaker.lastFailure ? ` (last: ${breaker.lastFailure})` : ''}`;
  if (breaker.state === 'halfOpen') return `circuit breaker half-open: one trial create at a time, ${why}`;
  const until = breaker.retryAt === undefined ? '' : ` until ${iso(breaker.retryAt)}`;
  return `circuit breaker open${until} ${why}`;
}
