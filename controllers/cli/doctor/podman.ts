import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { RuntimeVersion } from '../../runtime/runtime.js';
import { compareVersions, type Finding, fail, ok, warn } from './findings.js';

// Doctor's checks for Podman's Docker-compatible API: its version, which socket (rootful or rootless,
// and the port rule of the latter), the service's idle timeout, and HEALTHCHECKs without systemd. The
// findings are pure; `podmanFacts` gathers what they need from this machine.

/**
 * The oldest Podman enginepool supports. Why: 4.0 is the first with a Docker-compatible API that
 * serves `container:` network mode, label filters and `die` events the way the controller uses them;
 * 4.3 is the oldest version the suite runs against.
 */
export const MIN_PODMAN = '4.0';

/** Where Podman's socket is by default: rootful, and rootless for a user's runtime directory. */
export const ROOTFUL_SOCKET = '/run/podman/podman.sock';
export const rootlessSocket = (runtimeDir: string): string => `${runtimeDir}/podman/podman.sock`;

/** What the Podman checks need to know about this machine. */
export interface PodmanFacts {
  /** The socket the controller talks to (undefined for tcp://). */
  readonly socket?: string | undefined;
  /** The command line of the local `podman system service` serving it, when visible from here. */
  readonly service?: readonly string[] | undefined;
  /** `net.ipv4.ip_unprivileged_port_start` (rootless Podman cannot publish below it). */
  readonly unprivilegedPortStart?: number | undefined;
}

/** True for a socket in a user's runtime directory (`/run/user/<uid>/podman/podman.sock`). */
export function isRootlessSocket(socket: string): boolean {
  return /^\/run\/user\/\d+\//.test(socket);
}

/** The service's idle timeout in seconds from its command line (Podman's default is 5). */
export function serviceIdleSeconds(args: readonly string[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const inline = /^(?:--time|--timeout|-t)=(\d+)$/.exec(arg);
    if (inline) return Number(inline[1]);
    if (['--time', '--timeout', '-t'].includes(arg) && /^\d+$/.test(args[i + 1] ?? ''))
      return Number(args[i + 1]);
  }
  return 5;
}

/** The Podman findings, given the version it answered with, the facts and the pools' lowest host ports. */
export function podmanFindings(
  version: RuntimeVersion,
  facts: PodmanFacts,
  lowestPorts: ReadonlyMap<string, number>,
): Finding[] {
  const findings: Finding[] = [
    compareVersions(version.version, MIN_PODMAN) < 0
      ? fail(
          'podman',
          `Podman ${version.version} is older than ${MIN_PODMAN}, the oldest enginepool supports`,
          'upgrade Podman (Debian 12 ships 4.3)',
        )
      : ok('podman', `Podman ${version.version}, Docker-compatible API ${version.apiVersion}`),
  ];

  if (facts.socket && isRootlessSocket(facts.socket)) {
    const start = facts.unprivilegedPortStart ?? 1024;
    const low = [...lowestPorts].filter(([, port]) => port < start);
    findings.push(
      low.length > 0
        ? fail(
            'podman socket',
            `rootless Podman (${facts.socket}) cannot publish ports below ${start}: ${low.map(([pool, port]) => `${pool} starts at ${port}`).join(', ')}`,
            `move ports.hostRange to ${start} or above, or allow low ports: sudo sysctl net.ipv4.ip_unprivileged_port_start=${Math.min(...low.map(([, port]) => port))}`,
          )
        : ok(
            'podman socket',
            `rootless (${facts.socket}): engines' ports go through rootlessport (slirp4netns or pasta), so engines see connections from the namespace, not the client's address`,
          ),
    );
  } else if (facts.socket) {
    findings.push(ok('podman socket', `rootful (${facts.socket})`));
  }

  if (facts.service) {
    const idle = serviceIdleSeconds(facts.service);
    // Why: a service started by hand exits after its idle timeout; systemd's podman.socket starts it
    // again on the next request, a hand-started one is gone and the controller sees Docker unavailable.
    const activated = !facts.service.some((arg) => arg.startsWith('unix://') || arg.startsWith('tcp://'));
    if (idle === 0) findings.push(ok('podman service', 'runs without an idle timeout (--time=0)'));
    else if (activated) findings.push(ok('podman service', 'socket-activated (podman.socket)'));
    else
      findings.push(
        warn(
          'podman service',
          `\`${facts.service.join(' ')}\` exits after ${idle} s without a request`,
          `start it with --time=0 (podman system service --time=0 unix://${facts.socket ?? ROOTFUL_SOCKET}), or use systemd's podman.socket (sudo systemctl enable --now podman.socket; rootless: systemctl --user enable --now podman.socket)`,
        ),
      );
  }

  findings.push(
    ok(
      'podman healthchecks',
      "HEALTHCHECKs run only where Podman has systemd; enginepool does not need them (it probes engines and Gluetun's control server itself)",
    ),
  );
  return findings;
}

/** The local facts: the service's command line (from /proc) and the unprivileged port start. */
export function podmanFacts(socket: string | undefined): PodmanFacts {
  return {
    socket,
    service: socket ? serviceCommandLine(socket) : undefined,
    unprivilegedPortStart: sysctlPortStart(),
  };
}

function serviceCommandLine(socket: string): string[] | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  let activated: string[] | undefined;
  for (const pid of pids) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (!/podman$/.test(args[0] ?? '') || !args.includes('system') || !args.includes('service')) continue;
    if (args.some((arg) => arg === `unix://${socket}`)) return args;
    // Why: systemd's podman.socket starts `podman system service` without an address.
    if (!args.some((arg) => arg.includes('://'))) activated = args;
  }
  return activated;
}

function sysctlPortStart(): number | undefined {
  const file = '/proc/sys/net/ipv4/ip_unprivileged_port_start';
  if (!existsSync(file)) return undefined;
  const value = Number.parseInt(readFileSync(file, 'utf8'), 10);
  return Number.isNaN(value) ? undefined : value;
}
