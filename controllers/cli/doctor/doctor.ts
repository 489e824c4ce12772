import { systemClock } from '../../../state/clock.js';
import type { ObservedWorld } from '../../../state/observed.js';
import { formatIssues, usesSwarm } from '../../../state/spec/index.js';
import { readSpecFile } from '../../config/specSource.js';
import { Observer } from '../../loop/observer.js';
import { detectSelf } from '../../runtime/addressing.js';
import { socketPathOf } from '../../runtime/engineApi.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { SwarmRuntime } from '../../runtime/swarm/swarmRuntime.js';
import { defaultStateDirFor } from '../../streams/registry.js';
import {
  apiTokenFinding,
  type Finding,
  fail,
  fileFindings,
  overlapFindings,
  portFindings,
  unknownPoolFindings,
  warn,
} from './findings.js';
import { podmanFacts, podmanFindings } from './podman.js';
import {
  DOCKER_FIX,
  dockerReachability,
  hostProcessFinding,
  imageFinding,
  networkFinding,
  stateDirFinding,
  vpnFindings,
} from './probes.js';
import { swarmFindings } from './swarmDoctor.js';

// `enginepool doctor`: the troubleshooting guide users needed, as a command. It checks the file, Docker
// (reachability, permissions, API version), each image, network and VPN (container, published ports,
// control API and its auth), the host ports of each range, and the state directory. Every problem
// comes with what to do about it. Docker-free checks still run when Docker does not answer. The probes
// gather facts (probes.ts); the findings are pure (findings.ts); this file runs them in order.

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  readonly config: string;
  readonly stateDir?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly docker: Runtime;
  /** The Swarm side, for pools with `runtime: swarm`. */
  readonly swarm?: SwarmRuntime;
  /** Timeout of one control-server request. */
  readonly httpTimeoutMs?: number;
}

/** Runs every check; the findings in the order they were made. */
export async function runDoctor(options: DoctorOptions): Promise<Finding[]> {
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
    const socket = socketPathOf(env.DOCKER_HOST);
    findings.push(...podmanFindings(dockerFinding.version, podmanFacts(socket), lowest));
  }
  let world: ObservedWorld | undefined;
  let inContainer = false;
  if (dockerFinding.version && spec) {
    for (const image of [...new Set(spec.pools.map((p) => p.template.image))])
      findings.push(await imageFinding(docker, image));
    for (const network of [...new Set(spec.pools.flatMap((p) => p.template.network ?? []))])
      findings.push(await networkFinding(docker, network));
    if (options.swarm && usesSwarm(spec))
      findings.push(...(await swarmFindings(spec, options.swarm, docker)));
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
  findings.push(apiTokenFinding(env));

  return findings;
}
