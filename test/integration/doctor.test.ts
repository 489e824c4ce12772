import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGluetun } from '../support/gluetun.js';
import {
  ControllerProcess,
  cli,
  docker,
  ENGINE_IMAGE,
  poolYaml,
  removeContainers,
} from '../support/harness.js';

// `enginepool doctor` against the real Docker: it names a missing image, an unreachable Docker, taken
// ports (a foreign container's and a host process's), a VPN whose control server refuses the key, and
// exits 0 on a healthy setup. Host ports 22100-22199; containers ops-doctor-*.

const ROOT = resolve(import.meta.dirname, '..', '..');
const KEY = 'doctor-right-key';
const GLUETUN = 'ops-doctor-gluetun';
const FOREIGN = 'ops-doctor-foreign';
const dir = mkdtempSync(join(tmpdir(), 'enginepool-doctor-it-'));
let listener: Server;
let locker: ControllerProcess | undefined;

/** Writes a pools file (documents joined with ---) and answers its path. */
function file(name: string, ...documents: string[]): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, documents.join('---\n'));
  return path;
}

const plain = (range: string, image = ENGINE_IMAGE) =>
  poolYaml('ops-doctor', { range, replicas: '{ minFree: 1, max: 5 }' }).replace(ENGINE_IMAGE, image);

const vpn = (apiKey: string) =>
  poolYaml('ops-doctor-vpn', {
    range: '22110-22114',
    replicas: '{ minFree: 1, max: 5 }',
    extra: `  vpn:\n    gluetun:\n      container: ${GLUETUN}\n      controlUrl: http://127.0.0.1:22149\n      apiKey: ${apiKey}\n      forwardedPort: true\n`,
  });

async function doctor(config: string, env: Record<string, string> = {}) {
  return await cli(['doctor', '--config', config, '--state-dir', join(dir, 'state')], env);
}

beforeAll(async () => {
  await removeContainers({ names: [GLUETUN, FOREIGN] });
  await startGluetun(GLUETUN, {
    range: [22110, 22114],
    controlPort: 22149,
    env: [`FAKE_AUTH=apikey:${KEY}`, 'FAKE_FORWARDED_PORT=40123'],
  });
  const foreign = await docker.createContainer({
    name: FOREIGN,
    Image: ENGINE_IMAGE,
    ExposedPorts: { '6878/tcp': {} },
    HostConfig: { PortBindings: { '6878/tcp': [{ HostPort: '22125' }] } },
  });
  await foreign.start();
  listener = createServer();
  await new Promise<void>((r) => listener.listen(22127, '0.0.0.0', r));
});

afterAll(async () => {
  await locker?.stop('SIGKILL');
  await new Promise((r) => listener?.close(r));
  await removeContainers({ names: [GLUETUN, FOREIGN] });
});

describe('enginepool doctor', () => {
  it('exits 0 on a healthy setup: image present, ports free, VPN healthy and its key accepted', async () => {
    const result = await doctor(file('healthy', plain('22100-22109'), vpn(KEY)));
    expect(result.stdout).not.toMatch(/^FAIL/m);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/^ok {4}image enginepool\/stand-in-engine:dev: present locally$/m);
    expect(result.stdout).toMatch(/^ok {4}vpn ops-doctor-gluetun: running and healthy$/m);
    expect(result.stdout).toMatch(/^ok {4}vpn ops-doctor-gluetun api: .*forwarded port 40123$/m);
    expect(result.stdout).toMatch(/^ok {4}host ports ops-doctor: no host process listens on 22100-22109$/m);
    expect(result.stdout).toMatch(/no problems found/);
  });

  it('names a missing image that cannot be pulled, and exits 1', async () => {
    const result = await doctor(file('image', plain('22100-22109', 'enginepool/ops-doctor-missing:nope')));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL {2}image enginepool\/ops-doctor-missing:nope: not present locally, and it cannot be pulled: /m,
    );
    expect(result.stdout).toMatch(/fix: .*docker pull enginepool\/ops-doctor-missing:nope/);
  });

  it('names an unreachable Docker, still checks the rest, and exits 1', async () => {
    const result = await doctor(file('nodocker', plain('22100-22109')), {
      DOCKER_HOST: 'unix:///nonexistent.sock',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL {2}docker: no Docker socket at \/nonexistent\.sock: Docker is not running here$/m,
    );
    expect(result.stdout).toMatch(/fix: start the Docker daemon/);
    expect(result.stdout).toMatch(/^ok {4}file: /m);
    expect(result.stdout).toMatch(/^ok {4}host ports ops-doctor: /m);
  });

  it("names each taken port of the range: a foreign container's and a host process's, and exits 1", async () => {
    const result = await doctor(file('ports', plain('22120-22129')));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL {2}ports ops-doctor: container ops-doctor-foreign publishes port 22125: in the range 22120-22129$/m,
    );
    expect(result.stdout).toMatch(
      /^FAIL {2}host ports ops-doctor: a process on this host \(not a container\) listens on port 22127$/m,
    );
    expect(result.stdout).toMatch(/fix: find it with `ss -ltnp 'sport = :22127'`/);
  });

  it('says when the VPN control server refuses the API key, and exits 1', async () => {
    const result = await doctor(file('badkey', vpn('not-the-key')));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL {2}vpn ops-doctor-gluetun api: .*refused the API key \(401\).*was refused\)$/m,
    );
    expect(result.stdout).toMatch(/fix: set vpn\.gluetun\.apiKey/);
    expect(result.stdout).not.toContain('not-the-key');
  });

  it('warns (without failing) when a running controller holds the state dir', async () => {
    locker = new ControllerProcess('this: is not a pool\n');
    await locker.start();
    const result = await cli([
      'doctor',
      '--config',
      file('locked', plain('22100-22109')),
      '--state-dir',
      locker.stateDir,
    ]);
    expect(result.stdout).toMatch(
      /^warn {2}state dir: .* is in use by the enginepool controller pid \d+ on .*$/m,
    );
    expect(result.code, result.stdout).toBe(0);
  });

  it.runIf(process.getuid?.() === 0)(
    'gives the socket group fix when the user may not use the Docker socket (as nobody)',
    async () => {
      const config = file('nobody', plain('22100-22109'));
      chmodSync(dir, 0o755);
      chmodSync(config, 0o644);
      const { stdout } = await promisify(execFile)(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          join(ROOT, 'bin', 'enginepool'),
          'doctor',
          '--config',
          config,
          '--state-dir',
          join(dir, 'nobody-state'),
        ],
        { env: { ...process.env, HOME: dir } },
      ).catch((error: { stdout: string; code: number }) => {
        expect(error.code).toBe(1);
        return error;
      });
      expect(stdout).toMatch(/^FAIL {2}docker: permission denied on the Docker socket/m);
      expect(stdout).toMatch(
        /fix: the socket \/var\/run\/docker\.sock belongs to group \S+ \(gid \d+\): add the user to it/,
      );
    },
  );
});
