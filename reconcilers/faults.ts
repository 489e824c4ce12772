import type { FailureReason } from './actions.js';

// Docker's errors, classified once, as data: what a failed create or start means for the rest of the
// plan. A failure local to one name or one port (a name conflict, a port taken) says nothing about the
// next create, so the other creates go on and the breaker does not count it; a systemic failure (the
// image, the daemon, the template itself) would repeat on every create, so slow start stops at it and
// the breaker counts it.

/** The kinds of Docker failures the controller handles differently. */
export type RuntimeErrorKind =
  | 'unavailable' // the daemon cannot be reached (socket missing, refused, timeout, shutting down)
  | 'forbidden' // the socket exists but this user may not use it
  | 'notFound'
  | 'imageNotFound'
  | 'nameConflict'
  | 'portInUse' // a host port is taken (by a host process or another container)
  | 'conflict'
  | 'removing' // someone else's removal of this container is already under way
  | 'badRequest'
  | 'server';

/**
 * How far a failure reaches: `local` to the name or port of this create, `systemic` to every create of
 * the pool, or `daemon` (Docker itself is away: nothing is known about the create).
 */
export type FaultScope = 'local' | 'systemic' | 'daemon';

/** What a failed create or start means. */
export interface CreateFault {
  readonly scope: FaultScope;
  /** Counted for the circuit breaker under this reason; undefined when it is not a provisioning failure. */
  readonly failure?: FailureReason;
  /** The host port is held outside Docker's view: set it aside for a while. */
  readonly setAsidePort?: boolean;
}

/** The step of a provisioning that failed. */
export type CreateStep = 'create' | 'start';

const LOCAL: CreateFault = { scope: 'local' };
const DAEMON: CreateFault = { scope: 'daemon' };
const PORT_TAKEN: CreateFault = { scope: 'local', setAsidePort: true };

/**
 * The faults of one step by kind; `failed` is what its systemic failures count as, `noImage` what a
 * missing image counts as.
 */
function stepFaults(
  failed: FailureReason,
  noImage: FailureReason,
): Readonly<Record<RuntimeErrorKind, CreateFault>> {
  return {
    unavailable: DAEMON,
    forbidden: DAEMON,
    // Why: the name was free when planned; a container created since (by hand, by a stuck removal)
    // holds it, and the next pass sees it and places the engine on the next free name.
    nameConflict: LOCAL,
    portInUse: PORT_TAKEN,
    // Why: a 409 on starting the container just created means that container was removed or marked
    // for removal meanwhile; the next create does not share its fate.
    conflict: LOCAL,
    removing: LOCAL,
    imageNotFound: { scope: 'systemic', failure: noImage },
    // Why: a 404 on create is a network or volume the template names that does not exist.
    notFound: { scope: 'systemic', failure: failed },
    badRequest: { scope: 'systemic', failure: failed },
    server: { scope: 'systemic', failure: failed },
  };
}

/** The table: step x kind -> fault. */
const FAULTS: Readonly<Record<CreateStep, Readonly<Record<RuntimeErrorKind, CreateFault>>>> = {
  create: stepFaults('CreateFailed', 'ImageNotFound'),
  start: stepFaults('StartFailed', 'StartFailed'),
};

/**
 * Why: a start that cannot join a VPN container's network fails for every engine of the pool, but it
 * is the VPN's state, not the template's fault; the VPN gate holds creates until it is back.
 */
const VPN_NAMESPACE = /network namespace|join network|non running container/i;

/** What a failed create or start of one engine means for the other creates and for the breaker. */
export function classifyCreateFault(step: CreateStep, kind: RuntimeErrorKind, message: string): CreateFault {
  if (step === 'start' && VPN_NAMESPACE.test(message) && FAULTS.start[kind].scope === 'systemic') {
    return { scope: 'systemic' };
  }
  return FAULTS[step][kind];
}
