import { LABELS } from '../../state/labels.js';
import {
  bindingHostPorts,
  type DockerContainerDetails,
  type DockerContainerSummary,
  isLive,
  type ObservedWorld,
  observeWorld,
  toDockerState,
} from '../../state/observed.js';
import { type DesiredSpec, vpnContainers } from '../../state/spec/index.js';
import type { Runtime, RuntimeEvent } from '../runtime/runtime.js';

// One observation per tick: a single list of every container (ours carry the pool label; the others
// block names and ports), plus inspect only where the list is silent: the VPN containers, the port
// bindings of stopped containers, and when engines behind a VPN last started. While Docker's event
// stream is healthy, a pass in which no container changed reuses the last observation instead of
// asking Docker again (an informer's cache): an idle controller then costs Docker one relist per
// `relistMs`, not one list and a few inspects per resync.

/** When the last observation may stand in for a new one. */
export interface ObservationReuse {
  /** When the event stream was last (re)connected; undefined while it is down (then every pass lists). */
  readonly streamSince: () => number | undefined;
  /** The longest an observation is reused, stream healthy or not (the safety relist). */
  readonly relistMs: number;
  /** How long after a container change Docker's list may still lag it (it lists a `die` late). */
  readonly settleMs: number;
}

/** Turns Docker's current state into an {@link ObservedWorld}. */
export class Observer {
  /** Host ports of stopped containers: a container's bindings never change, so they are kept by id. */
  private readonly stoppedBindings = new Map<string, readonly number[]>();
  /** `State.StartedAt` of engines behind a VPN, until a start of that container is seen. */
  private readonly startedAt = new Map<string, number>();

  /** The last list and VPN inspects, when the list was asked for, and under which {@link watched} scope. */
  private last?: {
    readonly askedAt: number;
    readonly watched: string;
    readonly list: readonly DockerContainerSummary[];
    readonly vpnDetails: ReadonlyMap<string, DockerContainerDetails | undefined>;
  };
  /** When a container last changed (an event, or an action of this controller). */
  private changedAt = Number.NEGATIVE_INFINITY;
  /** Containers a `die` event named, until Docker's list says they stopped, or they start again. */
  private readonly dying = new Set<string>();

  constructor(
    private readonly docker: Runtime,
    private readonly now: () => number,
    private readonly reuse?: ObservationReuse,
  ) {}

  /** Forgets what is known of a container that was (re)started, so the next observation inspects it. */
  invalidate(containerId: string): void {
    this.startedAt.delete(containerId);
    this.stoppedBindings.delete(containerId);
    this.dying.delete(containerId);
  }

  /** Forgets every cached inspect and the last list (after a gap in the event stream). */
  invalidateAll(): void {
    this.startedAt.clear();
    this.stoppedBindings.clear();
    this.last = undefined;
  }

  /**
   * Some container changed (an event said so, or this controller acted): the next pass lists again.
   * A `die` event's container is looked at by inspect while the list still shows it running.
   */
  changed(event?: RuntimeEvent): void {
    this.changedAt = this.now();
    if (event?.Action === 'die' && event.Actor?.ID) this.dying.add(event.Actor.ID);
  }

  /** Observes Docker, or reuses the last observation when nothing can have changed since. */
  async observe(spec: DesiredSpec | undefined): Promise<ObservedWorld> {
    const now = this.now();
    const vpnNames = [...vpnContainers(spec)];
    const scope = watched(spec, vpnNames);
    const last = this.last;
    if (last && this.reuse && now - last.askedAt >= this.reuse.relistMs) this.invalidateAll();
    else if (last && last.watched === scope && this.reusable(last.askedAt)) {
      return observeWorld(
        last.list,
        {
          stoppedBindings: this.stoppedBindings,
          vpnDetails: last.vpnDetails,
          engineStartedAt: this.startedAt,
        },
        now,
      );
    }
    return this.list(vpnNames, scope);
  }

  /**
   * True when a list asked for at `askedAt` still describes Docker: the event stream was connected
   * before it was asked for (so every change since raised an event), and the last change was longer
   * than `settleMs` before it (so Docker's list had caught up).
   */
  private reusable(askedAt: number): boolean {
    const since = this.reuse?.streamSince();
    if (!this.reuse || since === undefined || since > askedAt) return false;
    return askedAt - this.changedAt >= this.reuse.settleMs;
  }

  private async list(vpnNames: readonly string[], scope: string): Promise<ObservedWorld> {
    const askedAt = this.now();
    const list = await this.withDeaths(await this.docker.listContainers());
    const ids = new Set(list.map((c) => c.Id));
    for (const id of [...this.stoppedBindings.keys()]) if (!ids.has(id)) this.stoppedBindings.delete(id);
    for (const id of [...this.startedAt.keys()]) if (!ids.has(id)) this.startedAt.delete(id);
    const stopped = list.filter((c) => !isLive(toDockerState(c.State)) && !this.stoppedBindings.has(c.Id));
    const vpnDetails = new Map<string, DockerContainerDetails | undefined>();
    await Promise.all([
      ...stopped.map(async (c) => {
        const details = await this.docker.inspectContainer(c.Id);
        this.stoppedBindings.set(c.Id, bindingHostPorts(details?.HostConfig?.PortBindings));
      }),
      ...vpnNames.map(async (name) => vpnDetails.set(name, await this.docker.inspectContainer(name))),
    ]);

    const vpnStartedAt = new Map<string, number>();
    for (const [name, details] of vpnDetails) {
      const at = details?.State?.StartedAt ? Date.parse(details.State.StartedAt) : Number.NaN;
      if (!Number.isNaN(at)) vpnStartedAt.set(name, at);
    }
    const behindVpn = list.filter((c) => {
      const vpn = c.Labels?.[LABELS.vpn];
      if (!vpn || !c.Labels?.[LABELS.pool] || !isLive(toDockerState(c.State))) return false;
      const known = this.startedAt.get(c.Id);
      // Why: a start time only moves forward, so it needs a fresh look only if it might be older than the VPN's.
      return known === undefined || known <= (vpnStartedAt.get(vpn) ?? 0);
    });
    await Promise.all(
      behindVpn.map(async (c) => {
        const details = await this.docker.inspectContainer(c.Id);
        const at = details?.State?.StartedAt ? Date.parse(details.State.StartedAt) : Number.NaN;
        if (!Number.isNaN(at)) this.startedAt.set(c.Id, at);
      }),
    );
    this.last = { askedAt, watched: scope, list, vpnDetails };
    return observeWorld(
      list,
      { stoppedBindings: this.stoppedBindings, vpnDetails, engineStartedAt: this.startedAt },
      this.now(),
    );
  }

  /**
   * The list, with containers a `die` event named shown as Docker's inspect has them. Why: dockerd lists
   * a container as running for a while after its `die` event (more under load); waiting for the list
   * delayed a killed engine's replacement by a settle wake (150-500 ms). Inspect sees the exit at once.
   */
  private async withDeaths(list: DockerContainerSummary[]): Promise<DockerContainerSummary[]> {
    const listed = new Set(list.map((c) => c.Id));
    for (const id of [...this.dying]) if (!listed.has(id)) this.dying.delete(id);
    return Promise.all(
      list.map(async (summary) => {
        if (!this.dying.has(summary.Id)) return summary;
        if (!isLive(toDockerState(summary.State))) {
          this.dying.delete(summary.Id);
          return summary;
        }
        const details = await this.docker.inspectContainer(summary.Id);
        const state = details?.State;
        if (!state || isLive(toDockerState(state.Status))) {
          this.dying.delete(summary.Id);
          return summary;
        }
        // The same inspect answers what a stopped container's bindings are: no second one below.
        this.stoppedBindings.set(summary.Id, bindingHostPorts(details.HostConfig?.PortBindings));
        return { ...summary, State: state.Status, Status: `Exited (${state.ExitCode ?? 0})` };
      }),
    );
  }
}

/**
 * The pools and VPN containers whose events keep a list fresh (the loop ignores the others' events, see
 * `concernsPools`). Why a list is reused only under the same ones: containers of a pool that was out of
 * the file changed unseen (a bench or a user removed them by hand); when the pool came back, the old list
 * still showed them running, and the first pass created 6 of 20 engines around phantoms.
 */
function watched(spec: DesiredSpec | undefined, vpnNames: readonly string[]): string {
  return JSON.stringify([(spec?.pools ?? []).map((pool) => pool.name).sort(), [...vpnNames].sort()]);
}
