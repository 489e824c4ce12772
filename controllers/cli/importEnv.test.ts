import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../state/spec/index.js';
import { parseDotenv, poolsFromEnv } from './importEnv.js';

// `enginepool import-env` on acestream-orchestrator's own settings: the values of its .env.example
// (Python era, commit 3d981236), with its Gluetun section as written there (commented out), and
// uncommented for single and redundant VPN mode. Every result must be a valid pools file.

const PEER_ENV_EXAMPLE = `# Core
APP_PORT=8000
DOCKER_NETWORK="aceserver"
MIN_REPLICAS=10
MAX_REPLICAS=50
CONTAINER_LABEL=orchestrator.managed=acestream
STARTUP_TIMEOUT_S=25
IDLE_TTL_S=600
COLLECT_INTERVAL_S=5
STATS_HISTORY_MAX=720
MONITOR_INTERVAL_S=10
ENGINE_GRACE_PERIOD_S=30
AUTOSCALE_INTERVAL_S=30
# VPN_MODE=single
# GLUETUN_CONTAINER_NAME=gluetun
# GLUETUN_API_PORT=8001  # Internal port for Gluetun HTTP control server
MAX_CONCURRENT_PROVISIONS=5
MIN_PROVISION_INTERVAL_S=0.5
PORT_RANGE_HOST=19000-19999
ACE_HTTP_RANGE=40000-44999
ACE_HTTPS_RANGE=45000-49999
ACE_MAP_HTTPS=false
API_KEY=defaultpassword
DB_URL=sqlite:///./orchestrator.db
AUTO_DELETE=true
MAX_CONCURRENT_PROVISIONS=10
MIN_PROVISION_INTERVAL_S=0.5
MAX_ACTIVE_REPLICAS=20
TZ=Europe/Madrid
ENGINE_VARIANT=krinkuto11-amd64
DEBUG_MODE=false
DEBUG_LOG_DIR=/debug_logs
`;

const VPN_SETTINGS = `GLUETUN_API_PORT=8001
GLUETUN_HEALTH_CHECK_INTERVAL_S=5
VPN_RESTART_ENGINES_ON_RECONNECT=true
VPN_UNHEALTHY_RESTART_TIMEOUT_S=60
GLUETUN_PORT_CACHE_TTL_S=60
`;

function imported(text: string) {
  const env = parseDotenv(text);
  const result = poolsFromEnv(env, '.env');
  const spec = parseSpec(result.yaml);
  if (!spec.ok) throw new Error(`invalid pools file:\n${JSON.stringify(spec.issues)}\n${result.yaml}`);
  // Every setting of the input is accounted for: mapped, or listed with a reason.
  for (const name of env.keys()) expect(result.yaml, name).toMatch(new RegExp(`^#   ${name}[=:]`, 'm'));
  return { ...result, pools: spec.spec.pools };
}

describe('import-env', () => {
  it("maps the orchestrator's .env.example to one valid pool, and lists what has no equivalent", () => {
    const { pools, yaml } = imported(PEER_ENV_EXAMPLE);
    expect(pools).toHaveLength(1);
    const [pool] = pools;
    expect(pool!.name).toBe('acestream');
    expect(pool!.replicas).toMatchObject({ minFree: 1, min: 10, max: 50, scaleDownDelaySeconds: 30 });
    expect(pool!.template).toMatchObject({
      image: 'ghcr.io/krinkuto11/acestream-http-proxy:latest',
      network: 'aceserver',
      health: { startupTimeoutSeconds: 25 },
    });
    expect(pool!.vpn).toBeUndefined();
    expect(yaml).toMatch(/^# {3}MAX_ACTIVE_REPLICAS=20: only applies behind a VPN/m);
    expect(yaml).toMatch(/^# {3}CONTAINER_LABEL=orchestrator\.managed=acestream: .*docs\/migrating\.md/m);
    expect(yaml).toMatch(/^# {3}MAX_CONCURRENT_PROVISIONS=10: /m); // the last of two lines wins
    // The API key is a secret: named with what to do, never copied.
    expect(yaml).toMatch(/^# {3}API_KEY: .*ENGINEPOOL_API_TOKEN/m);
    expect(yaml).not.toContain('defaultpassword');
  });

  it('puts the pool behind Gluetun in single mode, capped by MAX_ACTIVE_REPLICAS, with a forwarded engine', () => {
    const { pools } = imported(
      `${PEER_ENV_EXAMPLE}VPN_MODE=single\nGLUETUN_CONTAINER_NAME=gluetun\n${VPN_SETTINGS}`,
    );
    expect(pools).toHaveLength(1);
    expect(pools[0]!.replicas.max).toBe(20);
    expect(pools[0]!.hostRange).toMatchObject({ start: 19000, end: 19999 });
    expect(pools[0]!.vpn?.gluetun).toMatchObject({
      container: 'gluetun',
      controlUrl: 'http://gluetun:8001',
      healthIntervalSeconds: 5,
      restartEnginesOnReconnect: true,
      forwardedPort: true,
    });
    expect(pools[0]!.template.network).toBeUndefined();
  });

  it('makes one pool per VPN in redundant mode, on each VPN port range, splitting the numbers', () => {
    const { pools, yaml } = imported(
      `${PEER_ENV_EXAMPLE}VPN_MODE=redundant\nGLUETUN_CONTAINER_NAME=gluetun1\nGLUETUN_CONTAINER_NAME_2=gluetun2\n` +
        `GLUETUN_PORT_RANGE_1=19000-19499\nGLUETUN_PORT_RANGE_2=19500-19999\nVPN_RESTART_ENGINES_ON_RECONNECT=false\n`,
    );
    expect(pools.map((p) => [p.name, p.vpn?.gluetun.container, p.hostRange.start])).toEqual([
      ['acestream-gluetun1', 'gluetun1', 19000],
      ['acestream-gluetun2', 'gluetun2', 19500],
    ]);
    for (const pool of pools) {
      expect(pool.replicas).toMatchObject({ minFree: 1, min: 5, max: 10 });
      expect(pool.vpn?.gluetun.restartEnginesOnReconnect).toBe(false);
    }
    expect(yaml).toMatch(/VPN_MODE=redundant: one pool per VPN/);
  });

  it('reads .env syntax: export, quotes, trailing comments, blank and commented lines', () => {
    const env = parseDotenv(
      'export A=1\nB="two # not a comment"\nC=\'three\'\nD=4 # a comment\n# E=5\n\nF=\nA=6\n',
    );
    expect(Object.fromEntries(env)).toEqual({ A: '6', B: 'two # not a comment', C: 'three', D: '4', F: '' });
  });

  it('builds the template of each engine variant', () => {
    for (const [variant, image] of [
      ['jopsis-amd64', 'jopsis/acestream:x64'],
      ['jopsis-arm64', 'jopsis/acestream:arm64-v3.2.13'],
    ] as const) {
      const { pools } = imported(`ENGINE_VARIANT=${variant}\nGLUETUN_CONTAINER_NAME=gluetun\n`);
      expect(pools[0]!.template.image).toBe(image);
      expect(JSON.stringify(pools[0]!.template)).toContain('{{p2pPort}}');
    }
  });
});
