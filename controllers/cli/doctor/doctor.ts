import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { allowedPorts, foreignHolders, ownEngineNames } from '../../../reconcilers/ports.js';
import { systemClock } from '../../../state/clock.js';
import type { ObservedWorld } from '../../../state/observed.js';
import { type DesiredSpec, formatIssues, type PoolSpec } from '../../../state/spec.js';
import { readSpecFile } from '../../config/specSource.js';
import { Observer } from '../../loop/observer.js';
import { probeControlServer } from '../../loop/vpnProber.js';
import { detectSelf } from '../../runtime/addressing.js';
import { connectionOptions } from '../../runtime/docker/dockerRuntime.js';
import { type Runtime, RuntimeError, type RuntimeVersion } from '../../runtime/runtime.js';
import { defaultStateDirFor, stateDirHolder } from '../../streams/registry.js';
import { podmanFacts, podmanFindings, ROOTFUL_SOCKET, rootlessSocket } from './podman.js';

// `enginepool doctor`: the troubleshooting guide users needed, as a command. It checks the file, Docker
// (reachability, permissions, API version), each image, network and VPN (container, published ports,
// control API and its auth), the host ports of each range, and the state directory. Every problem
// comes with what to do about it. Docker-free checks still run when Docker does not answer.

/** How bad a finding is: `fail` makes doctor exit 1, `warn` is worth knowing but not a problem. */
export type Severity = 'ok' | 'warn' | 'fail';

/** One check's result. */
export interface Finding {
  readonly severity: Severity;
  /** What was checked, e.g. `image acestream/engine:latest` or `ports acestream`. */
  readonly check: string;
  readonly detail: string;
  /** What to do about it (warnings and problems). */
  readonly fix?: string;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  readonly config: string;
  readonly stateDir?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly docker: Runtime;
  readonly io: { out: (text: string) => void; err: (text: string) => void };
  /** Timeout of one control-server request. */
  readonly httpTimeoutMs?: number;
}

/**
 * The oldest Docker API enginepool works with. Why: `State.Health` in inspect (the VPN container's
 * health) arrived in API 1.24 (Docker 1.12); everything else it uses is older.
 */
export const MIN_DOCKER_API = '1.24';

const ok = (check: string, detail: string): Finding => ({ severity: 'ok', check, detail });
const warn = (check: string, detail: string, fix: string): Finding => ({
  severity: 'warn',
  check,
  detail,
  fix,
});
const fail = (check: string, detail: string, fix: string): Finding => ({
  severity: 'fail',
  check,
  detail,
  fix,
});

/** Runs every check and prints the findings; 0 when nothing failed, 1 otherwise. */
export async function runDoctor(options: DoctorOptions): Promise<number> {
  const started = performance.now();
  const { env, docker } = options;
  const findings: Finding[] = [];
  const { result } = readSpecFile(options.config, env);
  const spec = result.ok ? result.spec : undefined;
  if (result.ok) findings.push(...fileFindings(options.config, result.spec));
  else
    findings.push(
      fail(
        'file',
        formatIssues(options.config, result.issues),
        'fix the lines above (`enginepool validate FILE` checks the file alone); until then the controller keeps the last valid file, or does nothing',
      ),
    );

  const dockerFinding = await dockerReachability(docker, env.DOCKER_HOST, env.XDG_RUNTIME_DIR);
  findings.push(...dockerFinding.findings);
  if (dockerFinding.version?.engine && /podman/i.test(dockerFinding.version.engine)) {
    const lowest = new Map((spec?.pools ?? []).map((p) => [p.name, p.hostRange.start]));
    const socket = connectionOptions(env.DOCKER_HOST).socketPath;
    findings.push(...podmanFindings(dockerFinding.version, podmanFacts(socket), lowest));
  }
  let world: ObservedWorld | undefined;
  let inContainer = false;
  if (dockerFinding.version && spec) {
    for (const image of [...new Set(spec.pools.map((p) => p.template.image))])
      findings.push(await imageFinding(docker, image));
    for (const network of [...new Set(spec.pools.flatMap((p) => p.template.network ?? []))])
      findings.push(await networkFinding(docker, network));
    try {
      world = await new Observer(docker, () => systemClock.now()).observe(spec);
      inContainer = (await detectSelf(docker, env.DOCKER_HOST)).inContainer;
    } catch (error) {
      findings.push(fail('docker', `listing containers failed: ${(error as Error).message}`, DOCKER_FIX));
    }
  } else if (spec) {
    findings.push(
      warn(
        'docker',
        'images, networks, the VPN containers and ports published by containers were not checked',
        'fix Docker first, then run doctor again',
      ),
    );
  }
  if (spec) {
    for (const pool of spec.pools) {
      if (pool.vpn) findings.push(...(await vpnFindings(pool, world, options.httpTimeoutMs)));
    }
    if (world) findings.push(...portFindings(spec, world), ...unknownPoolFindings(spec, world));
    findings.push(...overlapFindings(spec));
    const remote = env.DOCKER_HOST !== undefined && /^(tcp|http|https):/.test(env.DOCKER_HOST);
    if (inContainer || remote) {
      findings.push(
        warn(
          'host ports',
          `host processes holding ports were not checked: doctor runs ${remote ? 'on another machine than Docker' : 'in a container'}`,
          'run `enginepool doctor` on the Docker host to check for host processes on the ranges',
        ),
      );
    } else {
      for (const pool of spec.pools) {
        const finding = await hostProcessFinding(pool, world);
        if (finding) findings.push(finding);
      }
    }
  }
  findings.push(stateDirFinding(options.stateDir ?? defaultStateDirFor(options.config, env)));

  for (const line of formatFindings(findings)) options.io.out(line);
  const failed = findings.filter((f) => f.severity === 'fail').length;
  const warned = findings.filter((f) => f.severity === 'warn').length;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  options.io.out(
    failed === 0
      ? `no problems found${warned > 0 ? ` (${plural(warned, 'warning')})` : ''} in ${seconds} s`
      : `${plural(failed, 'problem')}${warned > 0 ? `, ${plural(warned, 'warning')}` : ''} found in ${seconds} s`,
  );
  return failed === 0 ? 0 : 1;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Prints findings: `ok`/`warn`/`FAIL`, what was checked and the detail, then the fix on its own line. */
export function formatFindings(findings: readonly Finding[]): string[] {
  const marks: Record<Severity, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
  const indent = ' '.repeat(6);
  const lines: string[] = [];
  for (const finding of findings) {
    const [first, ...rest] = finding.detail.split('\n');
    lines.push(`${marks[finding.severity]}  ${finding.check}: ${first}`);
    for (const line of rest) lines.push(`${indent}${line}`);
    if (finding.fix && finding.severity !== 'ok') lines.push(`${indent}fix: ${finding.fix}`);
  }
  return lines;
}

/** The file is valid: one line for it, and one per pool saying what its numbers mean. */
export function fileFindings(file: string, spec: DesiredSpec): Finding[] {
  const names = spec.pools.map((p) => p.name).join(', ');
  const findings = [ok('file', `${file} is valid: ${plural(spec.pools.length, 'pool')} (${names})`)];
  for (const pool of spec.pools) {
    const { minFree, min, max } = pool.replicas;
    const idle = Math.min(max, Math.max(min, minFree));
    // Why: the peer's most common surprise was a replica setting read the wrong way round; say in
    // words what the numbers do.
    findings.push(
      ok(
        `pool ${pool.name}`,
        `keeps ${minFree} engine${minFree === 1 ? '' : 's'} without a stream ready (minFree), ${min}..${max} in total (min..max): ${idle} run while no stream is open`,
      ),
    );
    const startup = pool.template.health.startupTimeoutSeconds;
    if (/acestream/i.test(pool.template.image) && startup < 30) {
      findings.push(
        warn(
          `pool ${pool.name}`,
          `template.health.startupTimeoutSeconds is ${startup}: AceStream engines often take 30-60 s to answer`,
          'raise startupTimeoutSeconds to 60, or engines are removed before they are ready (StartupTimeout failures)',
        ),
      );
    }
  }
  return findings;
}

const DOCKER_FIX =
  'start the Docker daemon (sudo systemctl start docker), or point DOCKER_HOST at it (unix:///path/docker.sock or tcp://host:2375)';

/** Reaches Docker and reads its version; a failure says whether the daemon is down or the socket is forbidden. */
async function dockerReachability(
  docker: Runtime,
  dockerHost: string | undefined,
  runtimeDir: string | undefined,
): Promise<{ findings: Finding[]; version?: RuntimeVersion }> {
  const where = dockerHost ?? 'unix:///var/run/docker.sock';
  let version: RuntimeVersion;
  try {
    version = await docker.version();
  } catch (error) {
    const socket = connectionOptions(dockerHost).socketPath;
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

/** Compares dotted version numbers such as API versions: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
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
async function imageFinding(docker: Runtime, image: string): Promise<Finding> {
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

async function networkFinding(docker: Runtime, network: string): Promise<Finding> {
  const check = `network ${network}`;
  if (await docker.networkExists(network)) return ok(check, 'exists');
  return fail(
    check,
    `no Docker network named "${network}" (template.network)`,
    `create it (docker network create ${network}), or remove template.network so engines use the default bridge`,
  );
}

/** The VPN container (exists, runs, healthy, publishes the range) and its control API (reachable, auth accepted). */
async function vpnFindings(
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
        `${settings.controlUrl} answers: VPN running, public IP ${probe.publicIp || 'unknown'}${port}`,
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

/** Docker's view of a pool's VPN container: exists, runs, healthy, publishes the pool's range. */
export function vpnContainerFindings(pool: PoolSpec, world: ObservedWorld): Finding[] {
  const name = pool.vpn!.gluetun.container;
  const check = `vpn ${name}`;
  const vpn = world.vpns.get(name);
  if (!vpn?.exists) {
    return [
      fail(
        check,
        `no container named "${name}" (vpn.gluetun.container)`,
        `start the Gluetun container (docker compose up -d ${name}), or set vpn.gluetun.container to its name (docker ps --format '{{.Names}}')`,
      ),
    ];
  }
  if (vpn.state !== 'running') {
    return [
      fail(
        check,
        `the container is ${vpn.state}`,
        `start it (docker start ${name}); docker logs ${name} says why it stopped. Engines sharing its network are recreated once it runs`,
      ),
    ];
  }
  const findings: Finding[] = [];
  if (vpn.health === 'unhealthy') {
    findings.push(
      fail(
        check,
        'running, but Docker reports it unhealthy: the VPN tunnel is down',
        `read docker logs ${name}; enginepool holds creates until it is healthy again`,
      ),
    );
  } else if (vpn.health === 'starting') {
    findings.push(
      warn(check, 'running, Docker health still "starting"', 'wait for the tunnel; run doctor again'),
    );
  } else if (vpn.health === undefined) {
    findings.push(
      warn(
        check,
        'running, without a Docker HEALTHCHECK: only its control API tells whether the VPN is up',
        "use Gluetun's own image, which has a HEALTHCHECK",
      ),
    );
  } else findings.push(ok(check, 'running and healthy'));

  const { start, end } = pool.hostRange;
  const usable = allowedPorts(pool, world).length;
  const { max } = pool.replicas;
  const publish = `publish the range on ${name}: ports: ["${start}-${end}:${start}-${end}"] in compose (-p ${start}-${end}:${start}-${end}); a container's published ports are fixed when it is created, so recreate it`;
  if (usable === 0) {
    findings.push(
      fail(
        `ports ${pool.name}`,
        `${name} publishes none of ports ${start}-${end}: engines in its network cannot be reached`,
        publish,
      ),
    );
  } else if (usable < max) {
    findings.push(
      warn(
        `ports ${pool.name}`,
        `${name} publishes ${usable} of ports ${start}-${end}, so the pool holds at most ${usable} engines (max is ${max})`,
        publish,
      ),
    );
  }
  return findings;
}

/** Ports of each pool's range published by containers other than its own engines and VPN. */
export function portFindings(spec: DesiredSpec, world: ObservedWorld): Finding[] {
  const findings: Finding[] = [];
  for (const pool of spec.pools) {
    const own = ownEngineNames(pool, world);
    const byHolder = new Map<string, number[]>();
    const allowed = allowedPorts(pool, world);
    for (const port of allowed) {
      for (const holder of foreignHolders(pool, world, port, own)) {
        byHolder.set(holder, [...(byHolder.get(holder) ?? []), port]);
      }
    }
    const check = `ports ${pool.name}`;
    const { start, end } = pool.hostRange;
    if (byHolder.size === 0) {
      if (allowed.length > 0)
        findings.push(ok(check, `no other container publishes a port of ${start}-${end}`));
      continue;
    }
    const taken = new Set([...byHolder.values()].flat());
    const holders = [...byHolder].map(([holder, ports]) => `container ${holder} publishes ${ranges(ports)}`);
    findings.push(
      fail(
        check,
        `${holders.join('; ')}: in the range ${start}-${end}`,
        `enginepool skips taken ports, so the pool holds at most ${allowed.length - taken.size} engines (max is ${pool.replicas.max}); stop or move ${byHolder.size === 1 ? 'that container' : 'those containers'}, or move ports.hostRange`,
      ),
    );
  }
  return findings;
}

/** Managed containers of pools this file does not name: left alone, yet they hold names and ports. */
export function unknownPoolFindings(spec: DesiredSpec, world: ObservedWorld): Finding[] {
  const known = new Set(spec.pools.map((p) => p.name));
  const unknown = new Map<string, number>();
  for (const engine of world.engines)
    if (!known.has(engine.pool)) unknown.set(engine.pool, (unknown.get(engine.pool) ?? 0) + 1);
  return [...unknown].map(([pool, count]) =>
    warn(
      `pool ${pool}`,
      `${plural(count, 'container')} of pool ${pool}, which this file does not name: enginepool leaves them alone, and they keep their names and ports`,
      `if another controller runs ${pool}, nothing to do; if the pool is gone for good: docker rm -f $(docker ps -aq --filter label=io.enginepool.pool=${pool})`,
    ),
  );
}

/** Pools without a VPN whose ranges overlap compete for the same ports. */
export function overlapFindings(spec: DesiredSpec): Finding[] {
  const findings: Finding[] = [];
  const direct = spec.pools.filter((p) => !p.vpn);
  for (let i = 0; i < direct.length; i++) {
    for (const other of direct.slice(i + 1)) {
      const a = direct[i]!.hostRange;
      const b = other.hostRange;
      const from = Math.max(a.start, b.start);
      const to = Math.min(a.end, b.end);
      if (from > to) continue;
      findings.push(
        warn(
          `ports ${direct[i]!.name}`,
          `shares ports ${from}-${to} with pool ${other.name}`,
          'give each pool its own ports.hostRange, or they take ports from each other',
        ),
      );
    }
  }
  return findings;
}

/** Ports of a pool's range that a host process (not a container) listens on, found by trying to bind them. */
async function hostProcessFinding(
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

/** Ports as compact ranges: `22005, 22010-22012`. */
export function ranges(ports: readonly number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const from = sorted[i]!;
    while (sorted[i + 1] === sorted[i]! + 1) i++;
    parts.push(from === sorted[i] ? String(from) : `${from}-${sorted[i]}`);
  }
  return `port${sorted.length === 1 ? '' : 's'} ${parts.join(', ')}`;
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
