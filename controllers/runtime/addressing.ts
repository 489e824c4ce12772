import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { LABELS } from '../../state/labels.js';
import type { ObservedEngine, ObservedWorld } from '../../state/observed.js';
import type { PoolSpec } from '../../state/spec/index.js';
import { engineHttpPort } from '../../state/template.js';
import type { Runtime } from './runtime.js';

// How the controller (and the proxies it tells) reach an engine. On the host: the published port on
// the Docker host. In a container: the engine's (or its VPN's) address on a network the controller
// shares with it, at the port it listens on inside; otherwise the host through the default gateway.

/** Where the controller itself runs. */
export interface SelfLocation {
  readonly inContainer: boolean;
  /** Its IP per network name, when it runs in a container Docker knows. */
  readonly networks: Readonly<Record<string, string>>;
  /** Its default gateway (the Docker host, seen from a bridge network). */
  readonly gateway?: string;
  /** The host name or IP where published ports are reachable when on the host. */
  readonly dockerHost: string;
}

/** An address to reach an engine. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The endpoint of an engine. `override` (ENGINEPOOL_ENGINE_HOST) is a host where published ports answer. */
export function engineEndpoint(
  pool: PoolSpec,
  engine: ObservedEngine,
  world: ObservedWorld,
  self: SelfLocation,
  override?: string,
): Endpoint | undefined {
  const hostPort = engine.hostPort;
  if (hostPort === undefined) return undefined;
  // Why: a Swarm engine publishes its port in host mode on its node, wherever the controller runs.
  const node = engine.labels[LABELS.nodeAddress];
  if (node) return { host: node, port: hostPort };
  if (override) return { host: override, port: hostPort };
  if (!self.inContainer) return { host: self.dockerHost, port: hostPort };
  const namespace = pool.vpn ? world.vpns.get(pool.vpn.gluetun.container)?.networks : engine.networks;
  for (const [network, ip] of Object.entries(namespace ?? {})) {
    if (self.networks[network]) return { host: ip, port: engineHttpPort(pool, hostPort) };
  }
  return { host: self.gateway ?? 'host.docker.internal', port: hostPort };
}

/** The default gateway in /proc/net/route, as a dotted IPv4 address. */
function defaultGateway(): string | undefined {
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const [, destination, gateway] = line.trim().split(/\s+/);
      if (destination === '00000000' && gateway && gateway !== '00000000') {
        const bytes = gateway
          .match(/../g)!
          .map((hex) => Number.parseInt(hex, 16))
          .reverse();
        return bytes.join('.');
      }
    }
  } catch {
    // Not Linux, or no /proc: no gateway.
  }
  return undefined;
}

/** The id of the container this process runs in, from its mount table. */
function ownContainerId(): string | undefined {
  try {
    const match = /\/containers\/([0-9a-f]{64})\//.exec(readFileSync('/proc/self/mountinfo', 'utf8'));
    return match?.[1];
  } catch {
    return undefined;
  }
}

/** Finds out where the controller runs. Throws when Docker cannot be asked (try again later). */
export async function detectSelf(docker: Runtime, dockerHostEnv: string | undefined): Promise<SelfLocation> {
  const remote =
    dockerHostEnv && /^(tcp|http|https):\/\//.test(dockerHostEnv)
      ? new URL(dockerHostEnv.replace(/^tcp:/, 'http:')).hostname
      : undefined;
  const dockerHost = remote ?? '127.0.0.1';
  // Why: only a container of the Docker we drive shares its networks; a process in some other
  // container (or a Docker-in-Docker sandbox) reaches published ports like a process on the host.
  if (!existsSync('/.dockerenv') && !existsSync('/run/.containerenv'))
    return { inContainer: false, networks: {}, dockerHost };
  for (const candidate of [ownContainerId(), hostname()]) {
    if (!candidate) continue;
    const details = await docker.inspectContainer(candidate);
    if (!details) continue;
    const networks: Record<string, string> = {};
    for (const [name, network] of Object.entries(details.NetworkSettings?.Networks ?? {})) {
      if (network?.IPAddress) networks[name] = network.IPAddress;
    }
    const gateway = defaultGateway();
    return { inContainer: true, networks, ...(gateway ? { gateway } : {}), dockerHost };
  }
  return { inContainer: false, networks: {}, dockerHost };
}
