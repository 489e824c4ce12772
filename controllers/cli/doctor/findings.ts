import { allowedPorts, foreignHolders, ownEngineNames } from '../../../reconcilers/ports.js';
import type { ObservedWorld } from '../../../state/observed.js';
import type { DesiredSpec, PoolSpec } from '../../../state/spec/index.js';
import { plural } from '../../../state/words.js';

// The findings of `enginepool doctor` as pure functions of the facts gathered (the file, Docker's
// answers, the observed world): each a check, what was found and, for a problem, what to do about it.

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

/**
 * The oldest Docker API enginepool works with. Why: `State.Health` in inspect (the VPN container's
 * health) arrived in API 1.24 (Docker 1.12); everything else it uses is older.
 */
export const MIN_DOCKER_API = '1.24';

export const ok = (check: string, detail: string): Finding => ({ severity: 'ok', check, detail });

export const warn = (check: string, detail: string, fix: string): Finding => ({
  severity: 'warn',
  check,
  detail,
  fix,
});

export const fail = (check: string, detail: string, fix: string): Finding => ({
  severity: 'fail',
  check,
  detail,
  fix,
});

/** The closing line of a doctor run. */
export function summarise(findings: readonly Finding[], seconds: number): string {
  const failed = findings.filter((f) => f.severity === 'fail').length;
  const warned = findings.filter((f) => f.severity === 'warn').length;
  const took = seconds.toFixed(1);
  return failed === 0
    ? `no problems found${warned > 0 ? ` (${plural(warned, 'warning')})` : ''} in ${took} s`
    : `${plural(failed, 'problem')}${warned > 0 ? `, ${plural(warned, 'warning')}` : ''} found in ${took} s`;
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

/** The API token: without one, a proxy's stream events are refused and streamed-on engines look free. */
export function apiTokenFinding(env: Readonly<Record<string, string | undefined>>): Finding {
  if (env.ENGINEPOOL_API_TOKEN)
    return ok('api token', 'ENGINEPOOL_API_TOKEN is set: the API accepts changes');
  return warn(
    'api token',
    "ENGINEPOOL_API_TOKEN is not set: the API is read-only, so a proxy's stream events (acexy's stream_started/stream_ended) are refused with 403 and engines carrying streams look free, and may be scaled down",
    "set ENGINEPOOL_API_TOKEN in the controller's environment, and the same value as the proxy's token (acexy: ACEXY_ORCH_APIKEY)",
  );
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
