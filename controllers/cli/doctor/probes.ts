import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { ObservedWorld } from '../../../state/observed.js';
import { type PoolSpec, redactUrlCredentials } from '../../../state/spec/index.js';
import { probeControlServer } from '../../loop/vpnProber.js';
import { socketPathOf } from '../../runtime/engineApi.js';
import { type Runtime, RuntimeError, type RuntimeVersion } from '../../runtime/runtime.js';
import { stateDirHolder } from '../../streams/registry.js';
import {
  compareVersions,
  type Finding,
  fail,
  MIN_DOCKER_API,
  ok,
  ranges,
  vpnContainerFindings,
  warn,
} from './findings.js';
import { ROOTFUL_SOCKET, rootlessSocket } from './podman.js';

// The probes of `enginepool doctor`: each asks the world one thing (Docker, an image, a network, a
// VPN's control server, a host port, the state directory) and says what it found as a Finding.

export const DOCKER_FIX =
  'start the Docker daemon (sudo systemctl start docker), or point DOCKER_HOST at it (unix:///path/docker.sock or tcp://host:2375)';

/** Reaches Docker and reads its version; a failure says whether the daemon is down or the socket is forbidden. */
export async function dockerReachability(
  docker: Runtime,
  dockerHost: string | undefined,
  runtimeDir: string | undefined,
): Promise<{ findings: Finding[]; version?: RuntimeVersion }> {
  const where = dockerHost ?? 'unix:///var/run/docker.sock';
  let version: RuntimeVersion;
  try {
    version = await docker.version();
  } catch (error) {
    const socket = socketPathOf(dockerHost);
    if (error instanceof RuntimeError && error.kind === 'forbidden')
      return { findings: [fail('docker', error.message, socketPermissionFix(socket))] };
    if (socket && !existsSync(socket)) {
      return {
        findings: [
          fail(
            'docker',
            `no Docker socket at ${socket}: Docker is not running here`,
            podmanSocketFix(dockerHost, runtimeDir),
          ),
        ],
      };
    }
    return { findings: [fail('docker', `${where}: ${(error as Error).message}`, DOCKER_FIX)] };
  }
  const engine = version.engine ?? 'Docker';
  const findings = [ok('docker', `${engine} ${version.version} answers on ${where}`)];
  if (compareVersions(version.apiVersion, MIN_DOCKER_API) < 0) {
    findings.push(
      fail(
        'docker api',
        `API ${version.apiVersion} is older than ${MIN_DOCKER_API}, the oldest enginepool works with`,
        'upgrade Docker (API 1.24 is Docker 1.12, from 2016)',
      ),
    );
  } else if (/podman/i.test(engine)) {
    findings.push(ok('docker api', `API ${version.apiVersion} (Podman's Docker-compatible API)`));
  } else {
    findings.push(
      ok('docker api', `API ${version.apiVersion} (enginepool needs ${MIN_DOCKER_API} or later)`),
    );
  }
  return { findings, version };
}

/** The fix for a missing socket: Docker's, or Podman's socket when one is there and DOCKER_HOST is unset. */
function podmanSocketFix(dockerHost: string | undefined, runtimeDir: string | undefined): string {
  const podman = [ROOTFUL_SOCKET, ...(runtimeDir ? [rootlessSocket(runtimeDir)] : [])].find((s) =>
    existsSync(s),
  );
  if (dockerHost || !podman) return DOCKER_FIX;
  return `Podman's socket is at ${podman}: point enginepool at it with DOCKER_HOST=unix://${podman}`;
}

/** The fix for EACCES on the socket: the group that owns it, and how to join it. */
function socketPermissionFix(socket: string | undefined): string {
  const generic =
    'add the user to the "docker" group (sudo usermod -aG docker $USER, then log out and back in, or run `newgrp docker`)';
  if (!socket) return generic;
  let gid: number;
  try {
    gid = statSync(socket).gid;
  } catch {
    return generic;
  }
  const group = groupName(gid);
  return `the socket ${socket} belongs to group ${group ?? gid} (gid ${gid}): add the user to it (sudo usermod -aG ${group ?? gid} $USER, then log out and back in); in a container, add that group: docker run --group-add ${gid} (compose: group_add: ["${gid}"])`;
}

function groupName(gid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === gid) return name;
    }
  } catch {
    // No /etc/group: the gid is enough.
  }
  return undefined;
}

/** An image is present, or can at least be pulled. */
export async function imageFinding(docker: Runtime, image: string): Promise<Finding> {
  const check = `image ${image}`;
  if (await docker.imageExists(image)) return ok(check, 'present locally');
  try {
    await docker.checkPullable(image);
  } catch (error) {
    return fail(
      check,
      `not present locally, and it cannot be pulled: ${(error as Error).message}`,
      `check template.image for a typo; then pull it where a registry is reachable (docker pull ${image}), or build and tag it (docker build -t ${image} .)`,
    );
  }
  return warn(
    check,
    'not present locally; the registry has it, so the controller pulls it at the first create',
    `pull it now to avoid a slow first start: docker pull ${image}`,
  );
}

export async function networkFinding(docker: Runtime, network: string): Promise<Finding> {
  const check = `network ${network}`;
  if (await docker.networkExists(network)) return ok(check, 'exists');
  return fail(
    check,
    `no Docker network named "${network}" (template.network)`,
    `create it (docker network create ${network}), or remove template.network so engines use the default bridge`,
  );
}

/** The VPN container (exists, runs, healthy, publishes the range) and its control API (reachable, auth accepted). */
export async function vpnFindings(
  pool: PoolSpec,
  world: ObservedWorld | undefined,
  timeoutMs = 3_000,
): Promise<Finding[]> {
  const settings = pool.vpn!.gluetun;
  const findings: Finding[] = [];
  const vpn = world?.vpns.get(settings.container);
  if (world) findings.push(...vpnContainerFindings(pool, world));
  const check = `vpn ${settings.container} api`;
  const probe = await probeControlServer(settings, undefined, timeoutMs);
  if (probe.ok && !probe.warning) {
    const port = settings.forwardedPort ? `, forwarded port ${probe.forwardedPort ?? 'none yet'}` : '';
    findings.push(
      ok(
        check,
        `${redactUrlCredentials(settings.controlUrl)} answers: VPN running, public IP ${probe.publicIp || 'unknown'}${port}`,
      ),
    );
    if (settings.forwardedPort && probe.forwardedPort === null) {
      findings.push(
        warn(
          check,
          'Gluetun reports no forwarded port, so no engine gets one (forwardedPort: true)',
          'turn on port forwarding in Gluetun (VPN_PORT_FORWARDING=on) with a provider that offers it, or set forwardedPort: false',
        ),
      );
    }
    return findings;
  }
  if (probe.ok || probe.cause === 'unauthorized') {
    const key = settings.apiKey ? 'the API key in vpn.gluetun.apiKey was refused' : 'no API key is set';
    findings.push(
      fail(
        check,
        `${probe.ok ? probe.warning : probe.reason} (${key})`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the fix shows users the literal ${VAR} syntax.
        'set vpn.gluetun.apiKey: ${GLUETUN_API_KEY} and give the controller that variable; in Gluetun the key needs a role covering GET /v1/vpn/status, /v1/publicip/ip and /v1/portforward, e.g. HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE={"auth":"apikey","apikey":"<key>"}',
      ),
    );
    return findings;
  }
  if (probe.cause === 'unreachable') {
    findings.push(
      fail(
        check,
        probe.reason,
        `the controller must reach vpn.gluetun.controlUrl: run it on a Docker network shared with ${settings.container} (controlUrl http://${settings.container}:8000), or publish Gluetun's port 8000 and use http://127.0.0.1:<port>; run doctor where the controller runs${vpn && !vpn.exists ? ` (and start ${settings.container} first)` : ''}`,
      ),
    );
    return findings;
  }
  findings.push(
    fail(
      check,
      probe.reason,
      `the VPN tunnel is not up: read docker logs ${settings.container} (credentials, server choice); enginepool holds creates until it is`,
    ),
  );
  return findings;
}

/** Ports of a pool's range that a host process (not a container) listens on, found by trying to bind them. */
export async function hostProcessFinding(
  pool: PoolSpec,
  world: ObservedWorld | undefined,
): Promise<Finding | undefined> {
  // Why: behind a VPN the VPN container publishes the range, so Docker already holds those ports.
  if (pool.vpn) return undefined;
  const { start, end } = pool.hostRange;
  const busy: number[] = [];
  for (let port = start; port <= end; port++) {
    if (world?.portHolders.has(port)) continue;
    if (await portInUse(port)) busy.push(port);
  }
  const check = `host ports ${pool.name}`;
  if (busy.length === 0) return ok(check, `no host process listens on ${start}-${end}`);
  const first = busy[0]!;
  return fail(
    check,
    `a process on this host (not a container) listens on ${ranges(busy)}`,
    `find it with \`ss -ltnp 'sport = :${first}'\` and stop it, or move ports.hostRange; Docker refuses to publish these ports, so enginepool sets them aside`,
  );
}

/** True when binding the port on every address fails because something listens on it. */
export function portInUse(port: number): Promise<boolean> {
  const attempt = (host: string) =>
    new Promise<NodeJS.ErrnoException | undefined>((resolveBind) => {
      const server = createServer();
      server.once('error', (error: NodeJS.ErrnoException) => resolveBind(error));
      server.listen({ port, host, exclusive: true }, () => server.close(() => resolveBind(undefined)));
    });
  return attempt('::').then(async (error) => {
    // Why: `::` is dual-stack and catches IPv4 and IPv6 listeners; without IPv6 try IPv4 alone.
    const result =
      error?.code === 'EAFNOSUPPORT' || error?.code === 'EADDRNOTAVAIL' ? await attempt('0.0.0.0') : error;
    return result?.code === 'EADDRINUSE';
  });
}

/** The state directory: writable (or creatable), and not held by a running controller. */
export function stateDirFinding(stateDir: string): Finding {
  const check = 'state dir';
  const dir = resolve(stateDir);
  const writableFix = `give the controller's user write access (sudo install -d -o "$(id -un)" ${dir}), or pass --state-dir DIR; in a container, mount a volume at /var/lib/enginepool`;
  if (!existsSync(dir)) {
    let parent = dirname(dir);
    while (!existsSync(parent) && parent !== dirname(parent)) parent = dirname(parent);
    if (!writable(parent))
      return fail(check, `${dir} does not exist and ${parent} is not writable`, writableFix);
    return ok(check, `${dir} does not exist yet; the controller creates it`);
  }
  if (!statSync(dir).isDirectory())
    return fail(check, `${dir} is not a directory`, 'pass --state-dir with a directory');
  if (!writable(dir)) return fail(check, `${dir} is not writable`, writableFix);
  const holder = stateDirHolder(dir);
  if (holder?.alive) {
    return warn(
      check,
      `${dir} is in use by the enginepool controller pid ${holder.pid} on ${holder.host} (since ${holder.since})`,
      'fine if that is the controller you are checking; a second `enginepool run` with this state dir refuses to start: stop the first, or give the second its own --state-dir',
    );
  }
  return ok(
    check,
    `${dir} is writable${holder ? ` (a stale lock of pid ${holder.pid} is taken over at start)` : ''}`,
  );
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
