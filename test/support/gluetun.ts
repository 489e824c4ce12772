import { docker, GLUETUN_IMAGE, onPodman, waitFor } from './harness.js';

// A stand-in Gluetun container for tests: it publishes an engine range and its control server (on
// 127.0.0.1), with Docker health checked every second so it is healthy within about a second.

/** Options of {@link startGluetun}. */
export interface GluetunOptions {
  /** Host ports engines in its namespace are published on (first, last). */
  readonly range: readonly [number, number];
  /** Host port of its control server (container port 8000), on 127.0.0.1. */
  readonly controlPort: number;
  /** Extra environment, e.g. `FAKE_AUTH=apikey:KEY`, `FAKE_FORWARDED_PORT=40123`. */
  readonly env?: readonly string[];
}

/** Creates and starts a stand-in Gluetun named `name`, and waits until Docker reports it healthy. */
export async function startGluetun(name: string, options: GluetunOptions): Promise<void> {
  const exposed: Record<string, object> = { '8000/tcp': {} };
  const bindings: Record<string, { HostIp?: string; HostPort: string }[]> = {
    '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: String(options.controlPort) }],
  };
  for (let port = options.range[0]; port <= options.range[1]; port++) {
    exposed[`${port}/tcp`] = {};
    bindings[`${port}/tcp`] = [{ HostPort: String(port) }];
  }
  const container = await docker.createContainer({
    name,
    Image: GLUETUN_IMAGE,
    Env: ['HTTP_CONTROL_SERVER_LOG=off', ...(options.env ?? [])],
    ExposedPorts: exposed,
    Healthcheck: {
      Test: ['CMD', '/usr/local/bin/healthcheck'],
      Interval: 1e9,
      Timeout: 3e9,
      StartPeriod: 0,
      Retries: 3,
    },
    HostConfig: { PortBindings: bindings },
  });
  await container.start();
  await waitHealthy(name);
}

/**
 * Waits until a container's HEALTHCHECK passes: Docker says `healthy`. Why the other way: Podman without
 * systemd never runs HEALTHCHECKs (they are systemd timers; the status stays `starting`, the log empty),
 * so there the check's own command is run, as its timer would, until it exits 0.
 */
export async function waitHealthy(name: string): Promise<void> {
  const container = docker.getContainer(name);
  const podman = await onPodman();
  await waitFor(
    `${name} to be healthy`,
    async () => {
      const { State, Config } = await container.inspect();
      if (State.Health?.Status === 'healthy') return true;
      if (!podman || (State.Health?.Log?.length ?? 0) > 0) return false;
      const [form, ...command] = Config.Healthcheck?.Test ?? [];
      return (await execExitCode(name, form === 'CMD-SHELL' ? ['/bin/sh', '-c', ...command] : command)) === 0;
    },
    { timeoutMs: 20_000 },
  );
}

/** Runs a command in a container and answers its exit code. */
export async function execExitCode(name: string, cmd: string[]): Promise<number | null> {
  const exec = await docker.getContainer(name).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  await new Promise((resolve) => {
    stream.on('end', resolve);
    stream.resume();
  });
  return (await exec.inspect()).ExitCode;
}

/** Runs the stand-in's test hook (`/bin/fakectl down|up [PORT]|port PORT|...`) in container `name`. */
export async function fakectl(name: string, ...args: string[]): Promise<void> {
  await execExitCode(name, ['/bin/fakectl', ...args]);
}
