import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGluetun } from '../support/gluetun.js';
import { cli, poolYaml, removeContainers } from '../support/harness.js';

// `enginepool doctor` against Podman's Docker-compatible API (the `podman` project, DOCKER_HOST at the
// socket scripts/ensure-podman.sh starts): it names Podman, its socket and service, and passes a pool
// behind a stand-in Gluetun whose HEALTHCHECK never runs (no systemd). Host ports 25500-25549.

const GLUETUN = 'pod-doctor-gluetun';
const dir = mkdtempSync(join(tmpdir(), 'enginepool-podman-doctor-'));
const socket = (process.env.DOCKER_HOST ?? '').replace(/^unix:\/\//, '');

beforeAll(async () => {
  await removeContainers({ names: [GLUETUN] });
  await startGluetun(GLUETUN, { range: [25500, 25504], controlPort: 25549 });
});

afterAll(async () => {
  await removeContainers({ names: [GLUETUN] });
});

describe('enginepool doctor on Podman', () => {
  it('names Podman, its version, rootful socket and service, and finds no problem', async () => {
    const config = join(dir, 'pools.yaml');
    writeFileSync(
      config,
      poolYaml('pod-doctor', {
        range: '25500-25504',
        replicas: '{ minFree: 1, max: 5 }',
        extra: `  vpn:\n    gluetun:\n      container: ${GLUETUN}\n      controlUrl: http://127.0.0.1:25549\n`,
      }),
    );
    const result = await cli(['doctor', '--config', config, '--state-dir', join(dir, 'state')]);
    expect(result.stdout).toMatch(/^ok {4}docker: Podman Engine \d+\.\d+\.\d+ answers on unix:\/\//m);
    expect(result.stdout).toMatch(/^ok {4}podman: Podman \d+\.\d+\.\d+, Docker-compatible API 1\.\d+$/m);
    expect(result.stdout).toContain(`ok    podman socket: rootful (${socket})`);
    expect(result.stdout).toContain('ok    podman service: runs without an idle timeout (--time=0)');
    expect(result.stdout).toMatch(/^ok {4}image enginepool\/stand-in-engine:dev: present locally$/m);
    expect(result.stdout).not.toMatch(/^FAIL/m);
    expect(result.code).toBe(0);
  });
});
