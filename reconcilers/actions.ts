// The vocabulary of a plan. Every action says why it is taken; the kinds are verbs.

/** Why a provisioning attempt counts as failed for the circuit breaker (also a metric label's values). */
export const FAILURE_REASONS = [
  'ImageNotFound',
  'CreateFailed',
  'StartFailed',
  'ExitedBeforeReady',
  'StartupTimeout',
] as const;

/** One of {@link FAILURE_REASONS}. */
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** A reconciler's wish for one more engine; the planner gives it a name and ports. */
export interface CreateIntent {
  readonly kind: 'create';
  readonly pool: string;
  /** This engine takes the VPN's forwarded port as its P2P port. */
  readonly forwarded: boolean;
  readonly reason: string;
  /** Started because the API asked for one more engine; the shell answers that request with it. */
  readonly requested?: boolean;
}

/** Remove a container (force, volumes included); a 404 means it is already gone. */
export interface RemoveAction {
  readonly kind: 'remove';
  readonly pool: string;
  readonly containerId: string;
  readonly name: string;
  readonly reason: string;
  /** Set when the removal records a provisioning failure (an engine that never became ready). */
  readonly failure?: FailureReason;
  /**
   * Set on a retry of a removal Docker refused before: the plan holds that engine's name and port,
   * so nothing in it waits for this removal (it may take Docker seconds to refuse again).
   */
  readonly retry?: true;
}

/** Restart a container in place (same id, name and port), e.g. to rejoin a VPN's new namespace. */
export interface RestartAction {
  readonly kind: 'restart';
  readonly pool: string;
  readonly containerId: string;
  readonly name: string;
  readonly reason: string;
}

/** What a reconciler returns. */
export type Intent = CreateIntent | RemoveAction | RestartAction;

/** A create with its place: the lowest free name and a free host port. */
export interface CreateAction extends CreateIntent {
  readonly name: string;
  readonly index: number;
  readonly hostPort: number;
  readonly p2pPort: number;
  readonly apiPort: number;
}

/** One step of a plan, ready for the executor. */
export type Action = CreateAction | RemoveAction | RestartAction;

/** One line per action, as logs and `enginepool plan` print it. */
export function formatAction(action: Action): string {
  switch (action.kind) {
    case 'create':
      return `create ${action.name} on port ${action.hostPort}${action.forwarded ? ` with forwarded port ${action.p2pPort}` : ''} (${action.reason})`;
    case 'remove':
      return `remove ${action.name} (${action.reason})`;
    case 'restart':
      return `restart ${action.name} (${action.reason})`;
    default:
      return assertNever(action);
  }
}

/** The plan as printed lines. */
export function formatPlan(actions: readonly Action[]): string[] {
  return actions.map(formatAction);
}

/** Compile-time exhaustiveness for switches over unions. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
