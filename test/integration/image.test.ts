import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, http, poolContainers, poolYaml, removeContainers, waitFor } from '../support/harness.js';

// The controller image as its users run it: built by `npm run image` on this machine (no registry),
// started with the Docker socket and a config directory mounted, converging a pool of stand-in
// engines from inside a container, then stopped with `docker stop`. Host ports 22000-22019 (engines)
// and 22090 (the API).

const ROOT = resolve(import.meta.dirname, '..', '..');
const IMAGE = 'enginepool:local';
const POOL = 'img-it';
const CONTROLLER = 'img-it-controller';
const API = 'http://127.0.0.1:22090';
const TOKEN = 'img-it-token-0123456789';

const socketPath = process.env.DOCKER_HOST?.startsWith('unix://')
  ? process.env.DOCKER_HOST.slice('unix://'.length)
  : '/var/run/docker.sock';
const configDir = mkdtempSync(join(tmpdir(), 'enginepool-img-'));
const pools = (minFree: number) =>
  poolYaml(POOL, { range: '22000-22019', replicas: `{ minFree: ${minFree}, max: 6 }` });

/** Replaces pools.yaml the way editors save: a new file renamed over the old one. */
function writePools(yaml: string): void {
  const tmp = join(configDir, '.pools.yaml.tmp');
  writeFileSync(tmp, yaml);
  chmodSync(tmp, 0o644);
  renameSync(tmp, join(configDir, 'pools.yaml'));
}

const pool = async () => (await http(`${API}/api/v1/pools/${POOL}`)).body;
const health = async () =>
  (await docker.getContainer(CONTROLLER).inspect()).State.Health?.Status as string | undefined;

beforeAll(async () => {
  await removeOwn();
  const started = Date.now();
  const { stderr } = await promisify(execFile)('npm', ['run', '--silent', 'image'], {
    cwd: ROOT,
    env: process.env,
    timeout: 600_000,
  });
  console.log(`npm run image: ${((Date.now() - started) / 1000).toFixed(1)} s\n${stderr.trim()}`);
  // Why world-readable: the image runs as uid 10001, which must read the mounted directory.
  chmodSync(configDir, 0o755);
  writePools(pools(2));
}, 600_000);

const GATEWAY_POOL = 'img-it-gw';
const NETWORK = 'img-it-net';

/** Removes what this file creates: after it, and before it (what a killed run left). */
async function removeOwn(): Promise<void> {
  await removeContainers({ names: [CONTROLLER, `${CONTROLLER}-gw`] });
  await removeContainers({ pool: POOL });
  await removeContainers({ pool: GATEWAY_POOL });
  await docker
    .getNetwork(NETWORK)
    .remove()
    .catch(() => {});
}

afterAll(removeOwn);

describe('the enginepool image', () => {
  it('is non-root, labelled, and checks its health without curl', async () => {
    const image = await docker.getImage(IMAGE).inspect();
    expect(image.Config.User).toMatch(/^\d+:\d+$/);
    expect(image.Config.User).not.toMatch(/^0:/);
    expect(image.Config.Healthcheck?.Test?.join(' ')).toMatch(/^CMD node -e .*\/readyz/);
    expect(image.Config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'enginepool',
      'org.opencontainers.image.version': expect.stringMatching(/^\d+\.\d+\.\d+/),
      'org.opencontainers.image.revision': expect.stringMatching(/^[0-9a-f]{40}$|^unknown$/),
    });
    const { stdout } = await promisify(execFile)('docker', [
      'run',
      '--rm',
      '--entrypoint',
      'node',
      IMAGE,
      '--version',
    ]);
    expect(stdout.trim()).toMatch(/^v24\./);
    console.log(`image size: ${(image.Size / 1e6).toFixed(0)} MB`);
  });

  it('runs a pool end to end in a container: converges, turns healthy, applies an edit, stops in time', async () => {
    const controller = await docker.createContainer({
      name: CONTROLLER,
      Image: IMAGE,
      Env: [`ENGINEPOOL_API_TOKEN=${TOKEN}`, 'ENGINEPOOL_RESYNC_SECONDS=2'],
      // Only the timing is made shorter; the check itself is the image's.
      Healthcheck: { Interval: 1e9, Timeout: 3e9, Retries: 3, StartPeriod: 20e9 },
      HostConfig: {
        Binds: [`${socketPath}:/var/run/docker.sock`, `${configDir}:/etc/enginepool:ro`],
        GroupAdd: [String(statSync(socketPath).gid)],
        PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '22090' }] },
      },
    });
    await controller.start();

    await waitFor('two ready engines', async () => (await pool())?.replicas?.ready === 2, {
      timeoutMs: 60_000,
    });
    const engines = (await http(`${API}/api/v1/pools/${POOL}/engines`)).body as {
      host: string;
      port: number;
    }[];
    // Reached from inside the controller's container: over the network it shares with the engines
    // (the default bridge here), at the port each listens on, never the host's loopback.
    const bridge = (await controller.inspect()).NetworkSettings.Networks.bridge!;
    for (const engine of engines) {
      expect(engine.host).not.toBe('127.0.0.1');
      expect(engine.host.split('.').slice(0, 2)).toEqual(bridge.IPAddress.split('.').slice(0, 2));
    }
    // The status page and its assets come from the image's dist/, which the build must have copied.
    for (const path of ['/', '/ui/status.css', '/ui/status.js'])
      expect((await http(`${API}${path}`)).status, path).toBe(200);
    await waitFor('the HEALTHCHECK to say healthy', async () => (await health()) === 'healthy', {
      timeoutMs: 60_000,
    });

    writePools(pools(3));
    await waitFor('the edit applied: three ready engines', async () => (await pool()).replicas.ready === 3, {
      timeoutMs: 60_000,
    });

    const before = (await poolContainers(POOL)).map((c) => c.id);
    const stopping = Date.now();
    await controller.stop({ t: 10 });
    const stopSeconds = (Date.now() - stopping) / 1000;
    const state = (await controller.inspect()).State;
    console.log(`docker stop took ${stopSeconds.toFixed(2)} s, exit ${state.ExitCode}`);
    // Why exit 0 is the time check: had the process not ended within the 10 s grace, Docker would
    // have killed it, and the exit code would be 137.
    expect(state.ExitCode).toBe(0);
    const after = await poolContainers(POOL);
    expect(after.map((c) => c.id)).toEqual(before);
    expect(after.every((c) => c.state === 'running')).toBe(true);
    const { stdout } = await promisify(execFile)('docker', ['logs', CONTROLLER]);
    expect(stdout).toMatch(/stopping; engines keep running/);
  });

  it('reaches engines on a network it does not share through its gateway and the published port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'enginepool-img-gw-'));
    writeFileSync(
      join(dir, 'pools.yaml'),
      poolYaml(GATEWAY_POOL, { range: '22020-22029', replicas: '{ minFree: 1, max: 2 }' }),
    );
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'pools.yaml'), 0o644);
    await docker.createNetwork({ Name: NETWORK });
    const controller = await docker.createContainer({
      name: `${CONTROLLER}-gw`,
      Image: IMAGE,
      Env: [`ENGINEPOOL_API_TOKEN=${TOKEN}`, 'ENGINEPOOL_RESYNC_SECONDS=2'],
      HostConfig: {
        NetworkMode: NETWORK,
        Binds: [`${socketPath}:/var/run/docker.sock`, `${dir}:/etc/enginepool:ro`],
        GroupAdd: [String(statSync(socketPath).gid)],
        PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '22091' }] },
      },
    });
    await controller.start();
    const api = 'http://127.0.0.1:22091';
    await waitFor(
      'a ready engine',
      async () => (await http(`${api}/api/v1/pools/${GATEWAY_POOL}`)).body?.replicas?.ready === 1,
      { timeoutMs: 60_000 },
    );
    const network = (await docker.getNetwork(NETWORK).inspect()) as {
      IPAM: { Config: { Gateway: string }[] };
    };
    const gateway = network.IPAM.Config[0]!.Gateway;
    const [engine] = (await http(`${api}/api/v1/pools/${GATEWAY_POOL}/engines`)).body;
    expect(engine).toMatchObject({ host: gateway, port: 22020 });
    await controller.stop({ t: 10 });
  });
});
