import { createDockerRuntime } from '../../runtime/docker/dockerRuntime.js';
import { createSwarmRuntime } from '../../runtime/swarm/swarmRuntime.js';
import { type Command, optional, outputFormat, outputOption, required } from '../command.js';
import { runDoctor } from '../doctor/doctor.js';
import { formatFindings, summarise } from '../doctor/findings.js';

export const doctor: Command = {
  name: 'doctor',
  usage: `Usage: enginepool doctor --config FILE [--state-dir DIR] [-o table|json]

Checks Docker's reachability and permissions, images, networks, each VPN's control API, the swarm
(for Swarm pools), port-range conflicts and the state directory; every problem comes with its fix. Exit 0 all good, 1 problems.

Options:
  --config FILE        the desired-state file
  --state-dir DIR      the controller's state directory (default as for run)
  -o, --output FORMAT  table (default) or json (the findings as an array)`,
  options: { config: { type: 'string' }, 'state-dir': { type: 'string' }, ...outputOption },
  run: async (parsed, io) => {
    const output = outputFormat(parsed);
    const started = performance.now();
    const findings = await runDoctor({
      config: required(parsed, 'config'),
      stateDir: optional(parsed, 'state-dir'),
      env: process.env,
      // Why: a short timeout; doctor exists to say quickly what is wrong, not to wait on it.
      docker: createDockerRuntime({ dockerHost: process.env.DOCKER_HOST, timeoutMs: 5_000 }),
      swarm: createSwarmRuntime({
        dockerHost: process.env.DOCKER_HOST,
        timeoutMs: 5_000,
        placementOf: () => undefined,
      }),
    });
    if (output === 'json') io.out(JSON.stringify(findings, null, 2));
    else {
      for (const line of formatFindings(findings)) io.out(line);
      io.out(summarise(findings, (performance.now() - started) / 1000));
    }
    return findings.some((f) => f.severity === 'fail') ? 1 : 0;
  },
};
