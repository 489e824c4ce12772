import { describe, expect, it } from 'vitest';
import { formatFindings } from './findings.js';
import { isRootlessSocket, podmanFindings, serviceIdleSeconds } from './podman.js';

// Doctor's Podman checks from facts: version, rootful or rootless socket, the service's idle timeout.

const version = { version: '4.3.1', apiVersion: '1.41', os: 'linux', engine: 'Podman Engine' };
const lines = (...args: Parameters<typeof podmanFindings>) => formatFindings(podmanFindings(...args));

describe('doctor on Podman', () => {
  it('names the version, a rootful socket and a service without idle timeout', () => {
    expect(
      lines(
        version,
        {
          socket: '/run/podman/podman.sock',
          service: ['podman', 'system', 'service', '--time=0', 'unix:///run/podman/podman.sock'],
        },
        new Map([['ace', 19000]]),
      ).slice(0, 3),
    ).toEqual([
      'ok    podman: Podman 4.3.1, Docker-compatible API 1.41',
      'ok    podman socket: rootful (/run/podman/podman.sock)',
      'ok    podman service: runs without an idle timeout (--time=0)',
    ]);
  });

  it('fails a Podman older than 4.0', () => {
    expect(lines({ ...version, version: '3.4.4' }, {}, new Map())[0]).toMatch(
      /^FAIL {2}podman: Podman 3.4.4 is older than 4.0/,
    );
  });

  it('fails a rootless socket with a range below the unprivileged port start', () => {
    const text = lines(
      version,
      { socket: '/run/user/1000/podman/podman.sock', unprivilegedPortStart: 1024 },
      new Map([
        ['low', 800],
        ['high', 19000],
      ]),
    ).join('\n');
    expect(text).toContain(
      'FAIL  podman socket: rootless Podman (/run/user/1000/podman/podman.sock) cannot publish ports below 1024: low starts at 800',
    );
    expect(text).toContain('sudo sysctl net.ipv4.ip_unprivileged_port_start=800');
  });

  it('warns about a hand-started service that exits when idle, and accepts a socket-activated one', () => {
    const idle = lines(
      version,
      { socket: '/run/p.sock', service: ['/usr/bin/podman', 'system', 'service', 'unix:///run/p.sock'] },
      new Map(),
    );
    expect(idle).toContain(
      'warn  podman service: `/usr/bin/podman system service unix:///run/p.sock` exits after 5 s without a request',
    );
    const activated = lines(
      version,
      {
        socket: '/run/podman/podman.sock',
        service: ['/usr/bin/podman', '--log-level=info', 'system', 'service'],
      },
      new Map(),
    );
    expect(activated).toContain('ok    podman service: socket-activated (podman.socket)');
  });

  it('reads the idle timeout and the socket kind', () => {
    expect(serviceIdleSeconds(['podman', 'system', 'service', '-t', '0'])).toBe(0);
    expect(serviceIdleSeconds(['podman', 'system', 'service', '--time', '60'])).toBe(60);
    expect(serviceIdleSeconds(['podman', 'system', 'service'])).toBe(5);
    expect(isRootlessSocket('/run/user/1000/podman/podman.sock')).toBe(true);
    expect(isRootlessSocket('/run/podman/podman.sock')).toBe(false);
  });
});
