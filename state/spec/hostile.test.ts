import { describe, expect, it } from 'vitest';
import { renderEngine } from '../template.js';
import { formatIssues, parseSpec } from './index.js';

// Issue 12: a hostile or careless file is answered with problems, never obeyed silently, and the
// problems never echo a secret.

const base = `apiVersion: enginepool/v1
kind: EnginePool
metadata:
  name: hostile-bounds
spec:
  template:
    image: engine:latest
    args: ["--http-port={{httpPort}}"]
  replicas:
    max: 4
  ports:
    hostRange: 23000-23009
`;
const withVpn = (gluetun: string) =>
  base.replace('  replicas:', `  vpn:\n    gluetun: ${gluetun}\n  replicas:`);

function errors(text: string): string {
  const result = parseSpec(text, { env: {} });
  if (result.ok) throw new Error('expected errors');
  return formatIssues('pool.yaml', result.issues);
}

describe('bounds on durations and counts', () => {
  it.each([
    ['circuitBreaker.openSeconds', `${base}  circuitBreaker: { openSeconds: 1e12 }\n`],
    [
      'template.health.intervalSeconds',
      base.replace('    args:', '    health: { intervalSeconds: 3000000 }\n    args:'),
    ],
    ['replicas.scaleDownDelaySeconds', base.replace('max: 4', 'max: 4\n    scaleDownDelaySeconds: 1e9')],
    ['vpn.gluetun.recoverySeconds', withVpn('{ container: gluetun, recoverySeconds: 1e10 }')],
  ])('refuses %s above a day (Node fires timeouts above 2^31 ms at once)', (path, text) => {
    expect(errors(text)).toContain(`spec.${path}: expected a number <= 86400`);
  });

  it('refuses counts above 1000', () => {
    const text = base.replace('max: 4', 'max: 100000').replace('23000-23009', '1-65535');
    expect(errors(text)).toContain('spec.replicas.max: expected a number <= 1000, got number 100000');
  });
});

describe('network modes that leave the pool', () => {
  it.each(['host', 'container:other', 'HOST'])('refuses network: %s unless allowed', (mode) => {
    const text = base.replace('    args:', `    network: "${mode}"\n    args:`);
    expect(errors(text)).toContain(`spec.template.network: network "${mode}" puts engines outside`);
    const allowed = parseSpec(text.replace('    args:', '    allowEscapingNetwork: true\n    args:'));
    expect(allowed.ok).toBe(true);
  });

  it.each(['host', 'container:x', 'none'])('refuses vpn.gluetun.container: %s', (name) => {
    expect(errors(withVpn(`{ container: "${name}" }`))).toMatch(/spec\.vpn\.gluetun\.container: expected /);
  });
});

describe('hostIp', () => {
  const slot = {
    name: 'hostile-bounds-1',
    index: 1,
    hostPort: 23000,
    p2pPort: 23010,
    apiPort: 23020,
    forwarded: false,
  };

  it('publishes engine ports on the address the template names', () => {
    const result = parseSpec(base.replace('    args:', '    hostIp: 127.0.0.1\n    args:'));
    if (!result.ok) throw new Error(formatIssues('pool.yaml', result.issues));
    expect(renderEngine(result.spec.pools[0]!, slot).HostConfig.PortBindings).toEqual({
      '23000/tcp': [{ HostIp: '127.0.0.1', HostPort: '23000' }],
    });
  });

  it("without one, publishes on the controller's default address, and the template's wins over it", () => {
    const plain = parseSpec(base);
    const named = parseSpec(base.replace('    args:', '    hostIp: 0.0.0.0\n    args:'));
    if (!plain.ok || !named.ok) throw new Error('expected valid');
    expect(renderEngine(plain.spec.pools[0]!, slot, '127.0.0.1').HostConfig.PortBindings).toEqual({
      '23000/tcp': [{ HostIp: '127.0.0.1', HostPort: '23000' }],
    });
    expect(renderEngine(plain.spec.pools[0]!, slot).HostConfig.PortBindings).toEqual({
      '23000/tcp': [{ HostPort: '23000' }],
    });
    expect(renderEngine(named.spec.pools[0]!, slot, '127.0.0.1').HostConfig.PortBindings).toEqual({
      '23000/tcp': [{ HostIp: '0.0.0.0', HostPort: '23000' }],
    });
  });

  it('refuses an address that is not one, and hostIp behind a VPN', () => {
    expect(errors(base.replace('    args:', '    hostIp: localhost\n    args:'))).toContain(
      'spec.template.hostIp: expected an IP address such as 127.0.0.1',
    );
    const vpn = withVpn('{ container: gluetun }').replace('    args:', '    hostIp: 127.0.0.1\n    args:');
    expect(errors(vpn)).toContain('spec.template.hostIp: hostIp is for pools without a VPN');
  });
});

describe('secrets in messages', () => {
  it('never echoes the value of a secret field', () => {
    const message = errors(withVpn('{ container: gluetun, apiKey: 987654321012 }'));
    expect(message).toContain(
      'spec.vpn.gluetun.apiKey: expected a string, got a value (not shown: it is a secret)',
    );
    expect(message).not.toContain('987654321012');
  });

  it('never echoes the credentials of a URL', () => {
    const message = errors(withVpn('{ container: gluetun, controlUrl: "ftp://admin:hunter2@gluetun:8000" }'));
    expect(message).toContain('ftp://***@gluetun:8000');
    expect(message).not.toContain('hunter2');
  });
});
