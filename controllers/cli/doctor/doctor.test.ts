import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DockerContainerDetails } from '../../../state/observed.js';
import { desired, engine, foreign, poolSpec, world } from '../../../test/support/fixtures.js';
import {
  apiTokenFinding,
  compareVersions,
  fileFindings,
  formatFindings,
  overlapFindings,
  portFindings,
  ranges,
  unknownPoolFindings,
  vpnContainerFindings,
} from './findings.js';
import { stateDirFinding } from './probes.js';

// The pure parts of `enginepool doctor`: what each finding says about a given world. The integration
// test (test/integration/doctor.test.ts) runs the command against the real Docker.

const vpnPool = poolSpec({
  name: 'vpn',
  extra: '  vpn:\n    gluetun:\n      container: gluetun\n',
});

function gluetun(
  overrides: Partial<NonNullable<DockerContainerDetails['State']>> = {},
  ports = [19000, 19009],
) {
  const bindings: Record<string, { HostPort: string }[]> = {};
  for (let port = ports[0]!; port <= ports[1]!; port++)
    bindings[`${port}/tcp`] = [{ HostPort: String(port) }];
  return {
    Id: 'id-gluetun',
    Name: '/gluetun',
    State: { Status: 'running', Running: true, Health: { Status: 'healthy' }, ...overrides },
    HostConfig: { PortBindings: bindings },
  } satisfies DockerContainerDetails;
}

describe('doctor findings', () => {
  it('says in words what minFree, min and max do', () => {
    const pool = poolSpec({ name: 'ace', replicas: '{ minFree: 2, min: 0, max: 6 }' });
    expect(fileFindings('pools.yaml', desired(pool))).toEqual([
      { severity: 'ok', check: 'file', detail: 'pools.yaml is valid: 1 pool (ace)' },
      {
        severity: 'ok',
        check: 'pool ace',
        detail:
          'keeps 2 engines without a stream ready (minFree), 0..6 in total (min..max): 2 run while no stream is open',
      },
    ]);
  });

  it('warns about a short startup timeout for AceStream images', () => {
    const pool = poolSpec({
      name: 'ace',
      image: 'acestream/engine:latest',
      extra: '',
    });
    const short = {
      ...pool,
      template: { ...pool.template, health: { ...pool.template.health, startupTimeoutSeconds: 20 } },
    };
    const warning = fileFindings('f', desired(short)).find((f) => f.severity === 'warn');
    expect(warning?.detail).toMatch(/startupTimeoutSeconds is 20/);
  });

  it('names each container publishing a port of the range, and how many engines still fit', () => {
    const pool = poolSpec({ name: 'ace', replicas: '{ minFree: 1, max: 10 }' });
    const seen = world([
      engine(pool, 1),
      foreign('web', { ports: [19003, 19004] }),
      foreign('db', { ports: [19009, 5432] }),
    ]);
    const [finding] = portFindings(desired(pool), seen);
    expect(finding).toMatchObject({
      severity: 'fail',
      check: 'ports ace',
      detail:
        'container web publishes ports 19003-19004; container db publishes port 19009: in the range 19000-19009',
    });
    expect(finding!.fix).toMatch(/holds at most 7 engines \(max is 10\)/);
  });

  it('is content when only the pool’s own engines hold its ports', () => {
    const pool = poolSpec({ name: 'ace' });
    expect(portFindings(desired(pool), world([engine(pool, 1), engine(pool, 2)]))).toEqual([
      { severity: 'ok', check: 'ports ace', detail: 'no other container publishes a port of 19000-19009' },
    ]);
  });

  it.each([
    ['missing', undefined, 'fail', /no container named "gluetun"/],
    ['exited', gluetun({ Status: 'exited', Running: false }), 'fail', /the container is exited/],
    ['unhealthy', gluetun({ Health: { Status: 'unhealthy' } }), 'fail', /unhealthy: the VPN tunnel is down/],
    ['starting', gluetun({ Health: { Status: 'starting' } }), 'warn', /still "starting"/],
    ['without a HEALTHCHECK', gluetun({ Health: null }), 'warn', /without a Docker HEALTHCHECK/],
    ['healthy', gluetun(), 'ok', /running and healthy/],
  ] as const)('reports a VPN container that is %s', (_title, details, severity, detail) => {
    const [finding] = vpnContainerFindings(vpnPool, world([], { vpns: { gluetun: details } }));
    expect(finding?.severity).toBe(severity);
    expect(finding?.detail).toMatch(detail);
  });

  it('fails a VPN container that publishes none of the range, and warns when it publishes fewer than max', () => {
    const none = vpnContainerFindings(vpnPool, world([], { vpns: { gluetun: gluetun({}, [8000, 8000]) } }));
    expect(none[1]).toMatchObject({
      severity: 'fail',
      detail: 'gluetun publishes none of ports 19000-19009: engines in its network cannot be reached',
    });
    expect(none[1]!.fix).toMatch(/ports: \["19000-19009:19000-19009"\]/);
    const few = vpnContainerFindings(vpnPool, world([], { vpns: { gluetun: gluetun({}, [19000, 19002]) } }));
    expect(few[1]).toMatchObject({
      severity: 'warn',
      detail: expect.stringMatching(
        /publishes 3 of ports 19000-19009, so the pool holds at most 3 engines \(max is 5\)/,
      ),
    });
  });

  it('warns about containers of pools the file does not name, and how to remove them', () => {
    const ace = poolSpec({ name: 'ace' });
    const gone = poolSpec({ name: 'gone' });
    const findings = unknownPoolFindings(
      desired(ace),
      world([engine(ace, 1), engine(gone, 1), engine(gone, 2)]),
    );
    expect(findings).toEqual([
      expect.objectContaining({
        severity: 'warn',
        check: 'pool gone',
        detail: expect.stringMatching(/^2 containers of pool gone, which this file does not name/),
        fix: expect.stringContaining('label=io.enginepool.pool=gone'),
      }),
    ]);
  });

  it('warns when two pools without a VPN share ports', () => {
    const a = poolSpec({ name: 'a' });
    const b = { ...poolSpec({ name: 'b' }), hostRange: { start: 19005, end: 19020 } };
    expect(overlapFindings(desired(a, b))).toEqual([
      expect.objectContaining({
        severity: 'warn',
        check: 'ports a',
        detail: 'shares ports 19005-19009 with pool b',
      }),
    ]);
  });

  it('checks the state dir: creatable, writable, and whether a lock is stale', () => {
    const base = mkdtempSync(join(tmpdir(), 'enginepool-doctor-'));
    expect(stateDirFinding(join(base, 'a', 'b'))).toMatchObject({
      severity: 'ok',
      detail: expect.stringMatching(/does not exist yet/),
    });
    const dir = join(base, 'state');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'controller.lock'),
      JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), since: 'then' }),
    );
    expect(stateDirFinding(dir)).toMatchObject({
      severity: 'ok',
      detail: expect.stringMatching(/stale lock of pid 4194305/),
    });
    const file = join(base, 'file');
    writeFileSync(file, '');
    expect(stateDirFinding(file).severity).toBe('fail');
  });

  it("warns without an API token: a proxy's stream events would be refused", () => {
    const missing = apiTokenFinding({});
    expect(missing.severity).toBe('warn');
    expect(missing.detail).toMatch(/stream events .* refused with 403/);
    expect(missing.fix).toMatch(/ACEXY_ORCH_APIKEY/);
    expect(apiTokenFinding({ ENGINEPOOL_API_TOKEN: 's3cret' }).severity).toBe('ok');
  });

  it('prints a mark, the check and the detail, and the fix below a problem', () => {
    expect(
      formatFindings([
        { severity: 'ok', check: 'docker', detail: 'answers' },
        { severity: 'fail', check: 'image x', detail: 'missing\nsecond line', fix: 'pull it' },
      ]),
    ).toEqual(['ok    docker: answers', 'FAIL  image x: missing', '      second line', '      fix: pull it']);
  });

  it('compares API versions numerically and prints port ranges compactly', () => {
    expect(compareVersions('1.41', '1.24')).toBeGreaterThan(0);
    expect(compareVersions('1.9', '1.24')).toBeLessThan(0);
    expect(compareVersions('1.24', '1.24')).toBe(0);
    expect(ranges([5, 1, 2, 3, 9])).toBe('ports 1-3, 5, 9');
    expect(ranges([7])).toBe('port 7');
  });
});
