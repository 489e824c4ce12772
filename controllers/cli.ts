import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createActor } from 'xstate';
import { formatPlan } from '../reconcilers/actions.js';
import { planTick } from '../reconcilers/plan.js';
import { systemClock } from '../state/clock.js';
import { breakerView, circuitBreakerMachine } from '../state/machines/circuitBreaker.js';
import { enginePoolJsonSchema } from '../state/schema.js';
import { formatIssues } from '../state/spec.js';
import { createDockerPort } from './docker.js';
import { runDoctor } from './doctor.js';
import { runController } from './main.js';
import { readSpecFile } from './specSource.js';
import { renderStatus } from './statusTable.js';
import { readStreamFacts } from './streams.js';
import { packageVersion } from './version.js';
import { probeVpn } from './vpnProbe.js';

// `enginepool <command>`: run, validate, plan, status, doctor, schema (contract §2).

const USAGE = `Usage: enginepool <command> [options]

Commands:
  run --config FILE [--listen HOST:PORT] [--state-dir DIR]   run the controller (default listen 0.0.0.0:8000)
  validate FILE                                            check a desired-state file (exit 0 valid, 1 invalid)
  plan --config FILE                                       print what one reconcile would do, change nothing
                                                           (exit 0 nothing to do, 1 changes, 2 error)
  status [--url URL] [-o json]                             a running controller's pools, engines and conditions
  doctor --config FILE [--state-dir DIR]                   check the file, Docker, images, networks, the VPN,
                                                           ports and the state dir (exit 0 all good, 1 problems)
  schema                                                   print the JSON Schema (draft-07) of the file

Environment: DOCKER_HOST, ENGINEPOOL_API_TOKEN, ENGINEPOOL_ENGINE_HOST, ENGINEPOOL_STREAM_CHECK_SECONDS,
             LOG_LEVEL, LOG_FORMAT=json|pretty`;

type Io = { out: (text: string) => void; err: (text: string) => void };

const defaultIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

async function validate(args: string[], io: Io): Promise<number> {
  const file = args[0];
  if (!file || args.length > 1) {
    io.err('usage: enginepool validate FILE');
    return 2;
  }
  const { result } = readSpecFile(file, process.env);
  if (!result.ok) {
    io.err(formatIssues(file, result.issues));
    io.err(
      `${file}: invalid (${result.issues.length} ${result.issues.length === 1 ? 'problem' : 'problems'})`,
    );
    return 1;
  }
  const names = result.spec.pools.map((p) => p.name).join(', ');
  io.out(
    `${file}: valid (${result.spec.pools.length} ${result.spec.pools.length === 1 ? 'pool' : 'pools'}: ${names})`,
  );
  return 0;
}

async function plan(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, 'state-dir': { type: 'string' } },
  });
  if (!values.config) {
    io.err('usage: enginepool plan --config FILE');
    return 2;
  }
  const { result } = readSpecFile(values.config, process.env);
  if (!result.ok) {
    io.err(formatIssues(values.config, result.issues));
    return 2;
  }
  const spec = result.spec;
  const docker = createDockerPort({ dockerHost: process.env.DOCKER_HOST });
  const { Observer } = await import('./observer.js');
  let world: Awaited<ReturnType<InstanceType<typeof Observer>['observe']>>;
  try {
    world = await new Observer(docker, () => systemClock.now()).observe(spec);
  } catch (error) {
    io.err(`cannot observe Docker: ${(error as Error).message}`);
    return 2;
  }
  const now = systemClock.now();
  const vpns = new Map();
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
  const streams = readStreamFacts(values['state-dir'], values.config, process.env);
  const closed = breakerView(
    createActor(circuitBreakerMachine, { input: { threshold: 1, openMs: 1, trialMs: 1 } }).getSnapshot(),
  );
  // Why: a plan run has no probe history, so running engines count as starting (free): it never
  // proposes to replace an engine it has not seen fail.
  const computed = planTick({
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
    },
    now,
  });
  const lines = formatPlan(computed.actions);
  for (const [name, pool] of computed.pools) {
    const engines = pool.snapshot.engines.filter((e) => e.phase !== 'exited').length;
    io.out(
      `pool ${name}: ${engines} engines, ${pool.desired} wanted${pool.limit ? ` (${pool.limit.message})` : ''}${pool.blocked ? `; creates held back: ${pool.blocked.reason}` : ''}`,
    );
  }
  if (lines.length === 0) {
    io.out('nothing to do');
    return 0;
  }
  for (const line of lines) io.out(`  ${line}`);
  return 1;
}

async function status(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { url: { type: 'string' }, output: { type: 'string', short: 'o' } },
  });
  const url = values.url ?? process.env.ENGINEPOOL_URL ?? 'http://127.0.0.1:8000';
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') {
    io.err(`status: -o expects "table" or "json", got "${output}"`);
    return 2;
  }
  return renderStatus(url, output, io);
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'run': {
        const { values } = parseArgs({
          args,
          options: {
            config: { type: 'string' },
            listen: { type: 'string' },
            'state-dir': { type: 'string' },
          },
        });
        if (!values.config) {
          io.err('usage: enginepool run --config FILE [--listen HOST:PORT] [--state-dir DIR]');
          return 2;
        }
        return await runController({
          config: values.config,
          listen: values.listen ?? '0.0.0.0:8000',
          ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
          env: process.env,
        });
      }
      case 'validate':
        return await validate(args, io);
      case 'plan':
        return await plan(args, io);
      case 'status':
        return await status(args, io);
      case 'doctor': {
        const { values } = parseArgs({
          args,
          options: { config: { type: 'string' }, 'state-dir': { type: 'string' } },
        });
        if (!values.config) {
          io.err('usage: enginepool doctor --config FILE [--state-dir DIR]');
          return 2;
        }
        return await runDoctor({
          config: values.config,
          stateDir: values['state-dir'],
          env: process.env,
          // Why: a short timeout; doctor exists to say quickly what is wrong, not to wait on it.
          docker: createDockerPort({ dockerHost: process.env.DOCKER_HOST, timeoutMs: 5_000 }),
          io,
        });
      }
      case '--version':
      case 'version':
        io.out(packageVersion());
        return 0;
      case 'schema':
        io.out(JSON.stringify(enginePoolJsonSchema(), null, 2));
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.err(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    io.err((error as Error).message);
    return 2;
  }
}

// Why: after a command, sockets kept alive by HTTP agents must not hold the process open.
const invokedDirectly =
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(2);
    },
  );
}
