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
    recordSuccess: assign(({ context, event }) => {
      if (event.type !== 'PROBE_SUCCEEDED') return {};
      // Why: a momentary 0 while Gluetun renews forwarding is not a new port; keep the last real one.
      const port = event.forwardedPort ? event.forwardedPort : context.forwardedPort;
      return {
        failures: 0,
        lastError: null,
        forwardedPort: port,
        publicIp: event.publicIp ?? context.publicIp,
      };
    }),
    recordFailure: assign(({ context, event }) => ({
      failures: context.failures + 1,
      lastError: event.type === 'PROBE_FAILED' ? event.reason : context.lastError,
    })),
    resetPortTracking: assign({ forwardedPort: null, publicIp: null }),
    markRecovered: assign({ recoveredAt: ({ event }) => ('at' in event ? event.at : null) }),
    applySettings: assign(({ event }) => (event.type === 'SETTINGS_CHANGED' ? { ...event.settings } : {})),
  },
  delays: { recovery: ({ context }) => context.recoveryMs },
});

/** The threshold-th consecutive failed probe: emergency, with forwarded-port tracking reset. */
const toEmergency = {
  guard: 'reachedThreshold',
  target: 'emergency',
  actions: ['recordFailure', 'resetPortTracking'],
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
  on: { SETTINGS_CHANGED: { actions: 'applySettings' } },
  states: {
    unknown: {
      on: {
        PROBE_SUCCEEDED: { target: 'healthy', actions: 'recordSuccess' },
        PROBE_FAILED: [toEmergency, { actions: 'recordFailure' }],
      },
    },
    healthy: {
      on: {
        PROBE_SUCCEEDED: { actions: 'recordSuccess' },
        PROBE_FAILED: [toEmergency, { actions: 'recordFailure' }],
      },
    },
    emergency: {
      on: {
        PROBE_SUCCEEDED: {
          target: 'recovering',
          actions: ['recordSuccess', 'markRecovered'],
        },
        PROBE_FAILED: { actions: 'recordFailure' },
      },
    },
    recovering: {
      after: { recovery: 'healthy' },
      on: {
        PROBE_SUCCEEDED: { actions: 'recordSuccess' },
        PROBE_FAILED: [
          toEmergency,
          // Why: "healthy after recoverySeconds without a new failure": a failure restarts the window.
          { target: 'recovering', reenter: true, actions: 'recordFailure' },
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
