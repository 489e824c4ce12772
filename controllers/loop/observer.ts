import { LABELS } from '../../state/labels.js';
import {
  bindingHostPorts,
  type DockerContainerDetails,
  isLive,
  type ObservedWorld,
  observeWorld,
  toDockerState,
} from '../../state/observed.js';
import { type DesiredSpec, vpnContainers } from '../../state/spec/index.js';
import type { Runtime } from '../runtime/runtime.js';

// One observation per tick: a single list of every container (ours carry the pool label; the others
// block names and ports), plus inspect only where the list is silent: the VPN containers, the port
// bindings of stopped containers, and when engines behind a VPN last started.

/** Turns Docker's current state into an {@link ObservedWorld}. */
export class Observer {
  /** Host ports of stopped containers: a container's bindings never change, so they are kept by id. */
  private readonly stoppedBindings = new Map<string, readonly number[]>();
  /** `State.StartedAt` of engines behind a VPN, until a start of that container is seen. */
  private readonly startedAt = new Map<string, number>();

  constructor(
    private readonly docker: Runtime,
    private readonly now: () => number,
  ) {}

  /** Forgets what is known of a container that was (re)started, so the next observation inspects it. */
  invalidate(containerId: string): void {
    this.startedAt.delete(containerId);
    this.stoppedBindings.delete(containerId);
  }

  /** Forgets every cached inspect (a periodic resync, or after a gap in the event stream). */
  invalidateAll(): void {
    this.startedAt.clear();
    this.stoppedBindings.clear();
  }

  /** Observes Docker. Throws a RuntimeError when Docker cannot be reached. */
  async observe(spec: DesiredSpec | undefined): Promise<ObservedWorld> {
    const list = await this.docker.listContainers();
    const ids = new Set(list.map((c) => c.Id));
    for (const id of [...this.stoppedBindings.keys()]) if (!ids.has(id)) this.stoppedBindings.delete(id);
    for (const id of [...this.startedAt.keys()]) if (!ids.has(id)) this.startedAt.delete(id);

    const vpnNames = [...vpnContainers(spec)];
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
    return observeWorld(
      list,
      { stoppedBindings: this.stoppedBindings, vpnDetails, engineStartedAt: this.startedAt },
      this.now(),
    );
  }
}
