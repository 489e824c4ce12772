import type { PoolStatus } from '../../../reconcilers/status.js';
import { iso } from '../../../state/clock.js';
import type { SpecIssue } from '../../../state/spec/index.js';
import type { SpecState } from '../../config/specSource.js';
import type { LoggedAction } from '../../loop/actionLog.js';
import type { MachineTransition } from '../../loop/machines.js';
import type { EngineInfo } from '../../loop/readModel.js';

// The status page's read model: every pool at a glance, built field by field from what the controller
// knows. Why field by field: the page and `GET /api/v1/status` are open without a token, so nothing
// reaches them by being spread from a richer object. Left out on purpose: stream ids and session URLs
// (they open someone's stream), container labels and addresses, the VPN's public IP, API keys.

/** A machine's last change of state, with ISO time. */
export interface TransitionView {
  readonly at: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

/** One engine as the page shows it. */
export interface EngineView {
  readonly name: string;
  readonly state: EngineInfo['state'];
  readonly health: EngineInfo['health'];
  /** Its host port. */
  readonly port: number;
  readonly streams: number;
  readonly forwarded: boolean;
  readonly createdAt: string;
  readonly lastProbeError: string | null;
}

/** One action the controller took. */
export interface ActionView {
  readonly at: string;
  readonly kind: LoggedAction['kind'];
  readonly engine: string;
  readonly reason: string;
  readonly ok: boolean;
  readonly error: string | null;
}

/** `degraded`: something needs a person (breaker open, VPN down, a provisioning problem); `warning`: not at minFree yet, or an engine unhealthy. */
export type PoolHealth = 'ok' | 'warning' | 'degraded';

/** One pool as the page shows it. */
export interface PoolView {
  readonly name: string;
  readonly generation: number;
  readonly observedGeneration: number;
  readonly health: PoolHealth;
  /** One line saying why the pool is in that health. */
  readonly summary: string;
  readonly replicas: PoolStatus['replicas'];
  readonly conditions: PoolStatus['conditions'];
  readonly circuitBreaker: {
    readonly state: string;
    readonly failures: number;
    readonly retryAt: string | null;
    readonly lastFailure: string | null;
    readonly lastTransition: TransitionView | null;
  };
  readonly vpn: {
    readonly enabled: boolean;
    readonly container: string | null;
    readonly phase: string;
    readonly forwardedPort: number | null;
    readonly lastError: string | null;
    readonly lastTransition: TransitionView | null;
  };
  readonly engines: readonly EngineView[];
  /** Newest first. */
  readonly actions: readonly ActionView[];
}

/** A problem with the desired-state file, without the values it quotes. */
export interface FileProblem {
  readonly line: number | null;
  readonly path: string;
  readonly message: string;
}

/** What `GET /api/v1/status` answers and the page shows. */
export interface StatusSnapshot {
  /** When this snapshot was made (server time, ISO). */
  readonly at: string;
  /** When Docker was last observed, or null before the first observation. */
  readonly observedAt: string | null;
  /** The controller's readiness (`/readyz`). */
  readonly ready: boolean;
  readonly readiness: string;
  readonly config: {
    /** False while the file on disk is invalid (the last valid spec stays in force). */
    readonly valid: boolean;
    readonly reloadedAt: string | null;
    readonly problems: readonly FileProblem[];
  };
  readonly pools: readonly PoolView[];
}

/** Everything {@link statusSnapshot} reads, as plain data. */
export interface SnapshotInput {
  readonly now: number;
  readonly observedAt: number | undefined;
  readonly readiness: { readonly ready: boolean; readonly reason: string };
  readonly specState: SpecState;
  readonly pools: readonly {
    readonly status: PoolStatus;
    readonly engines: readonly EngineInfo[];
    readonly actions: readonly LoggedAction[];
    readonly transitions: { readonly breaker?: MachineTransition; readonly vpn?: MachineTransition };
  }[];
}

const transition = (t: MachineTransition | undefined): TransitionView | null =>
  t ? { at: iso(t.at), from: t.from, to: t.to, reason: t.reason } : null;

/**
 * A file problem without the values it quotes. Why: a value may have come from an environment
 * variable (`${GLUETUN_API_KEY}`); `enginepool validate` shows it to whoever can read the file anyway.
 */
export function fileProblem(issue: SpecIssue): FileProblem {
  return {
    line: issue.line ?? null,
    path: issue.path,
    message: issue.message.replace(/the string "(?:[^"\\]|\\.)*"/g, 'a string'),
  };
}

/** A pool's health and the line that explains it. */
export function poolHealth(status: PoolStatus): { health: PoolHealth; summary: string } {
  const condition = (type: string) => status.conditions.find((c) => c.type === type);
  const degraded = condition('Degraded');
  const ready = condition('Ready');
  if (degraded?.status === 'True') return { health: 'degraded', summary: degraded.message };
  if (status.circuitBreaker.state !== 'closed')
    return { health: 'degraded', summary: `circuit breaker ${status.circuitBreaker.state}` };
  if (ready && ready.status !== 'True') return { health: 'warning', summary: ready.message };
  if (status.replicas.unhealthy > 0)
    return { health: 'warning', summary: `${status.replicas.unhealthy} engines unhealthy` };
  return { health: 'ok', summary: ready?.message ?? 'ready' };
}

/** Builds the page's read model. Pure. */
export function statusSnapshot(input: SnapshotInput): StatusSnapshot {
  const { specState } = input;
  return {
    at: iso(input.now),
    observedAt: input.observedAt === undefined ? null : iso(input.observedAt),
    ready: input.readiness.ready,
    readiness: input.readiness.reason.split('\n')[0]!,
    config: {
      valid: specState.error === undefined,
      reloadedAt: specState.reloadedAt === undefined ? null : iso(specState.reloadedAt),
      problems: (specState.error?.issues ?? []).map(fileProblem),
    },
    pools: input.pools.map(({ status, engines, actions, transitions }) => {
      const breaker = status.circuitBreaker;
      const vpn = status.vpn;
      return {
        name: status.name,
        generation: status.generation,
        observedGeneration: status.observedGeneration,
        ...poolHealth(status),
        // Why: an engine's streams are counted live (a stream shows the moment it starts), so free and
        // used are counted from the same engines the tiles show, not from the last pass.
        replicas: {
          ...status.replicas,
          used: engines.filter((e) => e.streams > 0).length,
          free: engines.filter((e) => e.state === 'ready' && e.streams === 0).length,
        },
        conditions: status.conditions.map((c) => ({
          type: c.type,
          status: c.status,
          reason: c.reason,
          message: c.message,
          lastTransitionTime: c.lastTransitionTime,
        })),
        circuitBreaker: {
          state: breaker.state,
          failures: breaker.failures,
          retryAt: breaker.retryAt ?? null,
          lastFailure: breaker.lastFailure ?? null,
          lastTransition: transition(transitions.breaker),
        },
        vpn: {
          enabled: vpn.enabled,
          container: vpn.container,
          phase: vpn.phase,
          forwardedPort: vpn.forwardedPort,
          lastError: vpn.lastError,
          lastTransition: transition(transitions.vpn),
        },
        engines: engines.map((e) => ({
          name: e.name,
          state: e.state,
          health: e.health,
          port: e.hostPort,
          streams: e.streams,
          forwarded: e.forwarded,
          createdAt: e.createdAt,
          lastProbeError: e.lastProbeError ?? null,
        })),
        actions: actions.map((a) => ({
          at: iso(a.at),
          kind: a.kind,
          engine: a.engine,
          reason: a.reason,
          ok: a.ok,
          error: a.error ?? null,
        })),
      };
    }),
  };
}
