import { describe, expect, it } from 'vitest';
import { formatIssues, parseSpec } from './index.js';

const base = `apiVersion: enginepool/v1
kind: EnginePool
metadata:
  name: acestream
spec:
  template:
    image: acestream/engine:latest
    args: ["--http-port={{httpPort}}"]
  replicas:
    minFree: 1
    max: 4
  ports:
    hostRange: 19000-19009
`;

function errors(text: string, env: Record<string, string> = {}): string {
  const result = parseSpec(text, { env });
  if (result.ok) throw new Error('expected errors');
  return formatIssues('pool.yaml', result.issues);
}

describe('parseSpec', () => {
  it('applies defaults and derives the hashes', () => {
    const result = parseSpec(base);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [pool] = result.spec.pools;
    expect(pool).toMatchObject({
      name: 'acestream',
      replicas: { minFree: 1, min: 0, max: 4, scaleDownDelaySeconds: 30 },
      hostRange: { start: 19000, end: 19009 },
      circuitBreaker: { failureThreshold: 5, openSeconds: 300 },
      template: { health: { path: '/webui/api/service?method=get_version', failureThreshold: 3 } },
    });
    const scaled = parseSpec(base.replace('max: 4', 'max: 5'));
    const retemplated = parseSpec(base.replace('--http-port', '--port'));
    if (!scaled.ok || !retemplated.ok) throw new Error('expected valid');
    expect(scaled.spec.pools[0]!.templateHash).toBe(pool!.templateHash);
    expect(scaled.spec.pools[0]!.documentHash).not.toBe(pool!.documentHash);
    expect(retemplated.spec.pools[0]!.templateHash).not.toBe(pool!.templateHash);
  });

  it.each([
    [
      'an unknown key, with a suggestion',
      base.replace('minFree: 1', 'minfree: 1'),
      'pool.yaml:10:5: spec.replicas.minfree: unknown key "minfree" (did you mean "minFree"?); valid keys here: minFree, min, max, scaleDownDelaySeconds',
    ],
    [
      'a wrong type',
      base.replace('max: 4', 'max: "four"'),
      'pool.yaml:11:10: spec.replicas.max: expected a number, got the string "four"',
    ],
    [
      'a number too small',
      base.replace('minFree: 1', 'minFree: 0'),
      'pool.yaml:10:14: spec.replicas.minFree: expected a number >= 1, got number 0',
    ],
    [
      'a missing required key',
      base.replace('    image: acestream/engine:latest\n', ''),
      'pool.yaml:7:5: spec.template.image: is required (expected a string)',
    ],
    [
      'min above max',
      base.replace('max: 4', 'max: 4\n    min: 5'),
      'pool.yaml:12:10: spec.replicas.min: min (5) cannot be above max (4)',
    ],
    [
      'a range smaller than max',
      base.replace('19000-19009', '19000-19002'),
      'pool.yaml:13:16: spec.ports.hostRange: the range 19000-19002 holds 3 ports but max is 4: widen the range to at least 4 ports or lower max',
    ],
    [
      'an unordered range',
      base.replace('19000-19009', '19009-19000'),
      'pool.yaml:13:16: spec.ports.hostRange: expected an ordered range of ports between 1 and 65535, such as 19000-19999 (got 19009-19000)',
    ],
    [
      'an unknown placeholder',
      base.replace('{{httpPort}}', '{{httpport}}'),
      'pool.yaml:8:12: spec.template.args[0]: unknown placeholder {{httpport}}; valid placeholders are {{httpPort}}, {{hostPort}}, {{p2pPort}}, {{apiPort}}, {{name}}, {{index}}',
    ],
    [
      'broken YAML',
      `${base}  : [`,
      'pool.yaml:14:6: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    [
      'an empty file',
      '',
      'pool.yaml:1:1: the file has no EnginePool document (an empty file is refused, so a half-saved edit can never remove every pool)',
    ],
    [
      'a duplicate pool name',
      `${base}---\n${base}`,
      'pool.yaml:18:9: metadata.name: pool "acestream" is already defined in document 1; pool names must be unique',
    ],
    [
      'containerPort behind a VPN',
      base
        .replace('    args:', '    containerPort: 6878\n    args:')
        .replace('  replicas:', '  vpn: { gluetun: { container: gluetun } }\n  replicas:'),
      "pool.yaml:8:20: spec.template.containerPort: containerPort is for pools without a VPN: engines share the VPN's network, so each listens on its own host port ({{httpPort}})",
    ],
  ])('reports %s with its path and line', (_title, text, expected) => {
    expect(errors(text)).toBe(expected);
  });

  // biome-ignore-start lint/suspicious/noTemplateCurlyInString: ${VAR} is the file's own syntax.
  it('replaces ${VAR} from the environment, with defaults, and reports unset variables', () => {
    const text = base.replace(
      '  replicas:',
      '  vpn:\n    gluetun:\n      container: gluetun\n      apiKey: ${KEY}\n      controlUrl: ${URL:-http://gluetun:8001}\n  replicas:',
    );
    const result = parseSpec(text, { env: { KEY: 's3cret' } });
    expect(result.ok && result.spec.pools[0]!.vpn?.gluetun).toMatchObject({
      apiKey: 's3cret',
      controlUrl: 'http://gluetun:8001',
    });
    expect(errors(text)).toBe(
      'pool.yaml:12:15: spec.vpn.gluetun.apiKey: environment variable KEY is not set; set it for the controller, or write ${KEY:-default}',
    );
  });

  // biome-ignore-end lint/suspicious/noTemplateCurlyInString: ${VAR} is the file's own syntax.

  it('reads the runtime and placement; a Swarm pool hashes them, a Docker pool keeps its hash', () => {
    const docker = parseSpec(base);
    const swarm = parseSpec(
      `${base}  runtime: swarm\n  placement:\n    constraints: ["node.role == worker"]\n    maxPerNode: 2\n`,
    );
    if (!docker.ok || !swarm.ok) throw new Error('expected valid');
    expect(docker.spec.pools[0]).toMatchObject({ runtime: 'docker', placement: { constraints: [] } });
    expect(swarm.spec.pools[0]).toMatchObject({
      runtime: 'swarm',
      placement: { constraints: ['node.role==worker'], maxPerNode: 2 },
    });
    expect(swarm.spec.pools[0]!.templateHash).not.toBe(docker.spec.pools[0]!.templateHash);
    const explicitDocker = parseSpec(`${base}  runtime: docker\n`);
    if (!explicitDocker.ok) throw new Error('expected valid');
    expect(explicitDocker.spec.pools[0]!.templateHash).toBe(docker.spec.pools[0]!.templateHash);
  });

  it('refuses a Swarm pool with a VPN, placement on a Docker pool, and a malformed constraint', () => {
    const vpn = '  vpn:\n    gluetun:\n      container: gluetun\n';
    expect(errors(`${base}  runtime: swarm\n${vpn}`)).toMatch(/spec\.vpn.*Swarm pool cannot use a VPN/);
    expect(errors(`${base}  placement:\n    maxPerNode: 1\n`)).toMatch(/spec\.placement.*for Swarm pools/);
    expect(errors(`${base}  runtime: swarm\n  placement:\n    constraints: ["worker"]\n`)).toMatch(
      /constraints.*node\.role==worker/,
    );
  });

  it('refuses a VPN range that holds a port Gluetun uses itself', () => {
    const text = base
      .replace('19000-19009', '7995-8004')
      .replace('  replicas:', '  vpn: { gluetun: { container: gluetun } }\n  replicas:');
    expect(errors(text)).toContain(
      'hostRange (7995-8004) includes port 8000, which Gluetun uses in the namespace engines share',
    );
  });

  it('reports schema and cross-field problems of a file in one run', () => {
    const text = base.replace('19000-19009', '19009-19000').replace('minFree: 1', 'minFree: 1\n    maxx: 3');
    expect(errors(text)).toBe(
      [
        'pool.yaml:11:5: spec.replicas.maxx: unknown key "maxx" (did you mean "max"?); valid keys here: minFree, min, max, scaleDownDelaySeconds',
        'pool.yaml:14:16: spec.ports.hostRange: expected an ordered range of ports between 1 and 65535, such as 19000-19999 (got 19009-19000)',
      ].join('\n'),
    );
  });

  it('reports a key written twice in one mapping', () => {
    expect(errors(base.replace('max: 4', 'max: 4\n    max: 5'))).toBe(
      'pool.yaml:12:5: invalid YAML: the key "max" appears twice in one mapping',
    );
  });

  it('reports an alias without its anchor at its line, instead of throwing', () => {
    const text = base.replace('args: ["--http-port={{httpPort}}"]', 'args: [*nope]');
    expect(errors(text)).toBe(
      'pool.yaml:8:12: invalid YAML: Unresolved alias (the anchor must be set before the alias): nope',
    );
  });

  it('reports more aliases than it resolves, instead of throwing', () => {
    const aliases = Array.from({ length: 101 }, () => '*a').join(', ');
    const text = base.replace(
      'args: ["--http-port={{httpPort}}"]',
      `env: { A: &a x }\n    args: [${aliases}]`,
    );
    expect(errors(text)).toMatch(/^pool\.yaml:\d+:\d+: invalid YAML: 101 aliases; at most 100 are resolved$/);
  });
});
