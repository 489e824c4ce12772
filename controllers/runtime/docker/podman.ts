import type { DockerContainerDetails, DockerContainerSummary } from '../../../state/observed.js';
import type { RuntimeErrorKind, RuntimeEvent } from '../runtime.js';

// Podman's Docker-compatible API answers in Docker's shapes, with differences (apis.md §4) translated
// here so that the loop sees Docker's behaviour whichever engine answers. Pure functions and one small
// per-stream filter; the adapter (dockerRuntime.ts) calls them.

/** True when the version endpoint's components name Podman (`Podman Engine`). */
export function isPodman(components: readonly { readonly Name?: string }[] | undefined): boolean {
  return (components ?? []).some((c) => /podman/i.test(c.Name ?? ''));
}

/**
 * The kind of a Podman error whose status does not say it: Podman answers 500 where Docker says 409
 * (a taken name, a running container removed without force, a container others depend on) or 404 (a
 * container inspected while it is being removed).
 */
export function podmanErrorKind(message: string): RuntimeErrorKind | undefined {
  if (/that name is already in use|name "[^"]*" is in use/i.test(message)) return 'nameConflict';
  // Why: Podman tracks `container:` network mode as a dependency; the VPN container cannot go before
  // the engines in its namespace (podman#23898). Docker allows it; this is a conflict, not a broken daemon.
  if (/has dependent containers which must be removed before it|container state improper/i.test(message))
    return 'conflict';
  if (/^container [0-9a-f]+ does not exist/i.test(message)) return 'notFound';
  return undefined;
}

/** An event as Podman sends it: its health value in a top-level field. */
export interface PodmanEvent extends RuntimeEvent {
  readonly HealthStatus?: string;
}

/**
 * Turns one event stream's Podman events into Docker's: `remove` is Docker's `destroy`; `health_status`
 * with the value in `HealthStatus` is `health_status: <value>`; a health result equal to the container's
 * previous one is dropped (Podman reports every check, Docker only changes). Docker's own events pass
 * unchanged. One instance per stream: it remembers each container's last health value.
 */
export class EventTranslator {
  private readonly health = new Map<string, string>();

  translate(raw: PodmanEvent): RuntimeEvent | undefined {
    const { HealthStatus, ...event } = raw;
    const id = event.Actor?.ID ?? '';
    let action = event.Action ?? '';
    if (action === 'remove') action = 'destroy';
    if (action === 'health_status' && HealthStatus) action = `health_status: ${HealthStatus}`;
    if (action.startsWith('health_status')) {
      const value = action.slice('health_status'.length).replace(/^:\s*/, '');
      if (this.health.get(id) === value) return undefined;
      this.health.set(id, value);
    } else if (action === 'destroy' || action === 'die' || action === 'start') {
      // Why: a restarted container's checks start over, so its next result is news again.
      this.health.delete(id);
    }
    return action === event.Action ? event : { ...event, Action: action };
  }
}

/**
 * Podman's list as Docker's. Podman lists a container that joined another's network namespace with that
 * container's published ports and without its network mode (4.x: no HostConfig; 5.x: always "host");
 * Docker lists it with no ports and `container:<id>`. `networkModes` holds each container's network mode
 * from inspect (it never changes for a container).
 */
export function dockerShapedList(
  list: readonly DockerContainerSummary[],
  networkModes: ReadonlyMap<string, string>,
): DockerContainerSummary[] {
  return list.map((summary) => {
    const mode = networkModes.get(summary.Id);
    if (mode === undefined) return summary;
    return {
      ...summary,
      ...(mode.startsWith('container:') ? { Ports: [] } : {}),
      HostConfig: { ...summary.HostConfig, NetworkMode: mode },
    };
  });
}

/**
 * Podman's inspect as Docker's. Without systemd Podman never runs HEALTHCHECKs (their timers are
 * systemd units) and reports `starting` forever; a status no check produced is dropped, so a container
 * whose checks never ran reads like one without a HEALTHCHECK and the controller's own probes decide.
 */
export function dockerShapedDetails(details: DockerContainerDetails): DockerContainerDetails {
  const health = details.State?.Health as
    | { Status?: string; Log?: readonly unknown[] | null }
    | null
    | undefined;
  if (!health || (health.Log?.length ?? 0) > 0) return details;
  const { Health: _unmeasured, ...state } = details.State ?? {};
  return { ...details, State: state };
}
