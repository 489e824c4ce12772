import { assign, type SnapshotFrom, setup } from 'xstate';

// The lifecycle of one VPN container. `unknown` until the first probe; `healthy`; `emergency` after
// `threshold` consecutive failed probes (forwarded-port tracking is reset); `recovering` once probes are
// good again; `healthy` again after `recoveryMs` without a new failure. While recovering, no
// port-change decision is taken; the port seen then is the new baseline, never a "change".

/** The settings a VPN machine is made with (from `spec.vpn.gluetun`). */
export interface VpnInput {
  readonly threshold: number;
  readonly recoveryMs: number;
}

interface VpnContext extends VpnInput {
  failures: number;
  forwardedPort: number | null;
  publicIp: string | null;
  lastError: string | null;
  /** When the VPN last came back from an emergency. */
  recoveredAt: number | null;
}

/** Probe outcomes, each with the time it was taken. A forwarded port of null or 0 means none. */
export type VpnEvent =
  | { type: 'PROBE_SUCCEEDED'; at: number; forwardedPort: number | null; publicIp: string | null }
  | { type: 'PROBE_FAILED'; at: number; reason: string }
  | { type: 'SETTINGS_CHANGED'; settings: VpnInput };

const vpnSetup = setup({
  types: { input: {} as VpnInput, context: {} as VpnContext, events: {} as VpnEvent },
  guards: {
    reachedThreshold: ({ context }) => context.failures + 1 >= context.threshold,
  },
  actions: {
    recordSuccess: assign(
      ({ context }, params: { forwardedPort: number | null; publicIp: string | null }) => ({
        failures: 0,
        lastError: null,
        // Why: a momentary 0 while Gluetun renews forwarding is not a new port; keep the last real one.
        forwardedPort: params.forwardedPort ? params.forwardedPort : context.forwardedPort,
        publicIp: params.publicIp ?? context.publicIp,
      }),
    ),
    recordFailure: assign(({ context }, params: { reason: string }) => ({
      failures: context.failures + 1,
      lastError: params.reason,
    })),
    resetPortTracking: assign({ forwardedPort: null, publicIp: null }),
    markRecovered: assign((_, params: { at: number }) => ({ recoveredAt: params.at })),
    applySettings: assign((_, params: { settings: VpnInput }) => ({ ...params.settings })),
    /** A phase was entered: the shell provides what to do (log it, wake the loop); the machine says when. */
    announce: (_, _params: { phase: VpnPhase }) => {},
  },
  delays: { recovery: ({ context }) => context.recoveryMs },
});

type Probed<T extends VpnEvent['type']> = { event: Extract<VpnEvent, { type: T }> };

/** Takes in a good probe's facts. */
const success = {
  type: 'recordSuccess',
  params: ({ event }: Probed<'PROBE_SUCCEEDED'>) => ({
    forwardedPort: event.forwardedPort,
    publicIp: event.publicIp,
  }),
} as const;
/** Counts a failed probe, with its reason. */
const failure = {
  type: 'recordFailure',
  params: ({ event }: Probed<'PROBE_FAILED'>) => ({ reason: event.reason }),
} as const;
/** Says that a phase was entered. */
const announce = (phase: VpnPhase) => ({ type: 'announce', params: { phase } }) as const;

/** The threshold-th consecutive failed probe: emergency, with forwarded-port tracking reset. */
const toEmergency = {
  guard: 'reachedThreshold',
  target: 'emergency',
  actions: [failure, 'resetPortTracking'],
} as const;

export const vpnLifecycleMachine = vpnSetup.createMachine({
  id: 'vpnLifecycle',
  context: ({ input }) => ({
    ...input,
    failures: 0,
    forwardedPort: null,
    publicIp: null,
    lastError: null,
    recoveredAt: null,
  }),
  initial: 'unknown',
  on: {
    SETTINGS_CHANGED: {
      actions: { type: 'applySettings', params: ({ event }) => ({ settings: event.settings }) },
    },
  },
  states: {
    unknown: {
      on: {
        PROBE_SUCCEEDED: { target: 'healthy', actions: success },
        PROBE_FAILED: [toEmergency, { actions: failure }],
      },
    },
    healthy: {
      entry: announce('healthy'),
      on: {
        PROBE_SUCCEEDED: { actions: success },
        PROBE_FAILED: [toEmergency, { actions: failure }],
      },
    },
    emergency: {
      entry: announce('emergency'),
      on: {
        PROBE_SUCCEEDED: {
          target: 'recovering',
          actions: [success, { type: 'markRecovered', params: ({ event }) => ({ at: event.at }) }],
        },
        PROBE_FAILED: { actions: failure },
      },
    },
    recovering: {
      entry: announce('recovering'),
      after: { recovery: 'healthy' },
      on: {
        PROBE_SUCCEEDED: { actions: success },
        PROBE_FAILED: [
          toEmergency,
          // Why: "healthy after recoverySeconds without a new failure": a failure restarts the window.
          { target: 'recovering', reenter: true, actions: failure },
        ],
      },
    },
  },
});

/** The phase names, as status and metrics report them. */
export type VpnPhase = 'unknown' | 'healthy' | 'emergency' | 'recovering';

/** A VPN machine as plain data, for reconcilers, status and metrics. */
export interface VpnView {
  readonly phase: VpnPhase;
  readonly forwardedPort: number | null;
  readonly publicIp: string | null;
  readonly lastError: string | null;
  readonly failures: number;
  readonly recoveredAt: number | null;
}

/** The plain view of a VPN machine snapshot. */
export function vpnView(snapshot: SnapshotFrom<typeof vpnLifecycleMachine>): VpnView {
  const { context } = snapshot;
  return {
    phase: snapshot.value as VpnPhase,
    forwardedPort: context.forwardedPort,
    publicIp: context.publicIp,
    lastError: context.lastError,
    failures: context.failures,
    recoveredAt: context.recoveredAt,
  };
}
