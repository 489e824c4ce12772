import { createActor } from 'xstate';
import { formatPlan } from '../../../reconcilers/actions.js';
import { type Plan, planTick } from '../../../reconcilers/plan.js';
import { systemClock } from '../../../state/clock.js';
import { breakerView, circuitBreakerMachine } from '../../../state/machines/circuitBreaker.js';
import type { VpnView } from '../../../state/machines/vpnLifecycle.js';
import type { ObservedWorld } from '../../../state/observed.js';
import { type DesiredSpec, formatIssues } from '../../../state/spec/index.js';
import { plural } from '../../../state/words.js';
import { readSpecFile } from '../../config/specSource.js';
import { Observer } from '../../loop/observer.js';
import { probeVpn } from '../../loop/vpnProber.js';
import type { Runtime } from '../../runtime/runtime.js';
import { createSpecRuntime } from '../../runtime/swarm/poolRuntime.js';
import { readStreamFacts } from '../../streams/registry.js';
import { type Command, optional, outputFormat, outputOption, required } from '../command.js';

export const plan: Command = {
  name: 'plan',
  usage: `Usage: enginepool plan --config FILE [--state-dir DIR] [-o table|json]

Observes Docker and prints what one reconcile pass would do; changes nothing.
Exit 0 nothing to do, 1 changes, 2 error.

Options:
  --config FILE        the desired-state file
  --state-dir DIR      the controller's state directory, for its streams (default as for run)
  -o, --output FORMAT  table (default) or json ({ pools, actions })`,
  options: { config: { type: 'string' }, 'state-dir': { type: 'string' }, ...outputOption },
  run: async (parsed, io) => {
    const output = outputFormat(parsed);
    const config = required(parsed, 'config');
    const { result } = readSpecFile(config, process.env);
    if (!result.ok) {
      io.err(formatIssues(config, result.issues));
      return 2;
    }
    const spec = result.spec;
    const docker = createSpecRuntime({ dockerHost: process.env.DOCKER_HOST, spec: () => spec });
    let world: ObservedWorld;
    try {
      world = await new Observer(docker, () => systemClock.now()).observe(result.spec);
    } catch (error) {
      io.err(`cannot observe Docker: ${(error as Error).message}`);
      return 2;
    }
    const computed = await planOnce(result.spec, world, docker, optional(parsed, 'state-dir'), config);
    const pools = [...computed.pools].map(([name, pool]) => ({
      name,
      engines: pool.snapshot.engines.filter((e) => e.phase !== 'exited').length,
      desired: pool.desired,
      ...(pool.limit ? { limit: pool.limit.message } : {}),
      ...(pool.blocked ? { blocked: pool.blocked.reason } : {}),
    }));
    if (output === 'json') {
      io.out(JSON.stringify({ pools, actions: computed.actions }, null, 2));
    } else {
      for (const pool of pools)
        io.out(
          `pool ${pool.name}: ${plural(pool.engines, 'engine')}, ${pool.desired} wanted${pool.limit ? ` (${pool.limit})` : ''}${pool.blocked ? `; creates held back: ${pool.blocked}` : ''}`,
        );
      const lines = formatPlan(computed.actions);
      if (lines.length === 0) io.out('nothing to do');
      for (const line of lines) io.out(`  ${line}`);
    }
    return computed.actions.length === 0 ? 0 : 1;
  },
};

/** One pass's plan as a fresh controller would make it: no probe history, breakers closed. */
async function planOnce(
  spec: DesiredSpec,
  world: ObservedWorld,
  docker: Runtime,
  stateDir: string | undefined,
  config: string,
): Promise<Plan> {
  const now = systemClock.now();
  const vpns = new Map<string, VpnView>();
  for (const pool of spec.pools) {
    if (!pool.vpn) continue;
    const probe = await probeVpn(docker, pool.vpn.gluetun).catch((error: Error) => ({
      ok: false as const,
      reason: error.message,
    }));
    vpns.set(pool.name, {
      phase: probe.ok ? 'healthy' : 'emergency',
      forwardedPort: probe.ok ? probe.forwardedPort : null,
      publicIp: probe.ok ? probe.publicIp : null,
      lastError: probe.ok ? null : probe.reason,
      failures: probe.ok ? 0 : 1,
      recoveredAt: null,
    });
  }
  const streams = readStreamFacts(stateDir, config, process.env);
  const closed = breakerView(
    createActor(circuitBreakerMachine, { input: { threshold: 1, openMs: 1, trialMs: 1 } }).getSnapshot(),
  );
  // Why: a plan run has no probe history, so running engines count as starting (free): it never
  // proposes to replace an engine it has not seen fail.
  return planTick({
    spec,
    world,
    view: {
      probes: new Map(),
      streams: streams.engines,
      poolLastStreamEndedAt: streams.pools,
      breakers: new Map(spec.pools.map((p) => [p.name, closed])),
      vpns,
      setAsidePorts: new Set(),
      countFailuresSince: now,
      provisionRequests: new Map(),
      removalFailures: new Map(),
    },
    now,
  });
}
