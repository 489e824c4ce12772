import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGluetun } from '../support/gluetun.js';
import { ControllerProcess, cli, poolYaml, removeContainers, waitFor } from '../support/harness.js';
import { POOL_FAMILIES, VPN_POOL_FAMILIES } from '../support/poolMetrics.js';
import { promtool } from '../support/promtool.js';

// What an operator sees of a running controller: /metrics passes `promtool check metrics` and carries
// every family with a pool label; JSON log lines each with a level and a message, secrets never in
// them, a persisting state logged once; `enginepool status` shows the pools. One controller runs a
// plain pool and a pool behind a stand-in Gluetun that wants an API key. Host ports 22000-22049.

const POOL = 'ops-obs';
const VPN_POOL = 'ops-obs-vpn';
const GLUETUN = 'ops-obs-gluetun';
const KEY = 'gluetun-key-never-logged-5d1c';
let ctl: ControllerProcess;

/** The value of one series line of /metrics, or undefined. */
function value(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(): Promise<string> {
  return (await ctl.api('/metrics')).text;
}

beforeAll(async () => {
  await removeContainers({ pool: POOL, names: [GLUETUN] });
  await removeContainers({ pool: VPN_POOL });
  await startGluetun(GLUETUN, {
    range: [22010, 22014],
    controlPort: 22049,
    env: [`FAKE_AUTH=apikey:${KEY}`, 'FAKE_FORWARDED_PORT=40123'],
  });
  const yaml = [
    // max 1: once its only engine carries a stream the pool wants 2 and stays capacity-limited.
    poolYaml(POOL, { range: '22000-22004', replicas: '{ minFree: 1, max: 1, scaleDownDelaySeconds: 0 }' }),
    poolYaml(VPN_POOL, {
      range: '22010-22014',
      replicas: '{ minFree: 1, max: 2 }',
      extra: `  vpn:\n    gluetun:\n      container: ${GLUETUN}\n      controlUrl: http://127.0.0.1:22049\n      apiKey: \${OPS_GLUETUN_KEY}\n      healthIntervalSeconds: 1\n      forwardedPort: true\n`,
    }),
  ].join('---\n');
  ctl = new ControllerProcess(yaml, {
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'trace',
    OPS_GLUETUN_KEY: KEY,
  });
  await ctl.start();
  await waitFor('a ready engine in each pool', async () => {
    const [plain, vpn] = await Promise.all([ctl.pool(POOL), ctl.pool(VPN_POOL)]);
    return plain?.replicas?.ready >= 1 && vpn?.replicas?.ready >= 1;
  });
  const acquired = await ctl.api(`/api/v1/pools/${POOL}/acquire`, {
    method: 'POST',
    token: ctl.token,
    body: { id: 'obs-1' },
  });
  expect(acquired.status).toBe(200);
  // A refused token must not be echoed either.
  expect(
    (await ctl.api(`/api/v1/pools/${POOL}/acquire`, { method: 'POST', token: 'wrong-token-9e7b' })).status,
  ).toBe(401);
  // Let several passes run with the pool capacity-limited.
  const before = value(await scrape(), `enginepool_reconcile_total{pool="${POOL}",result="success"}`) ?? 0;
  await waitFor('three more reconcile passes', async () => {
    const metrics = await scrape();
    const passes = ['success', 'requeue_after', 'error'].reduce(
      (sum, result) =>
        sum + (value(metrics, `enginepool_reconcile_total{pool="${POOL}",result="${result}"}`) ?? 0),
      0,
    );
    return passes >= before + 3;
  });
}, 120_000);

afterAll(async () => {
  await ctl?.stop('SIGTERM');
  await removeContainers({ pool: POOL, names: [GLUETUN] });
  await removeContainers({ pool: VPN_POOL });
});

describe('/metrics of a running controller', () => {
  it('passes `promtool check metrics` without a remark', async () => {
    const result = await promtool(['check', 'metrics'], await scrape());
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('carries every family the issue names, with a pool label for both pools, and no container id', async () => {
    const metrics = await scrape();
    for (const pool of [POOL, VPN_POOL]) {
      const families = pool === VPN_POOL ? [...POOL_FAMILIES, ...VPN_POOL_FAMILIES] : POOL_FAMILIES;
      for (const name of families)
        expect(metrics, `${name} of ${pool}`).toMatch(new RegExp(`^${name}\\{[^}]*pool="${pool}"`, 'm'));
    }
    expect(value(metrics, `enginepool_vpn_phase{pool="${VPN_POOL}",phase="healthy"}`)).toBe(1);
    expect(value(metrics, `enginepool_vpn_forwarded_port{pool="${VPN_POOL}"}`)).toBe(40123);
    expect(value(metrics, `enginepool_streams{pool="${POOL}"}`)).toBe(1);
    expect(value(metrics, `enginepool_engines{pool="${POOL}",state="ready"}`)).toBe(1);
    expect(value(metrics, `enginepool_circuit_breaker_state{pool="${POOL}",state="closed"}`)).toBe(1);
    expect(value(metrics, 'enginepool_config_last_reload_successful')).toBe(1);
    expect(value(metrics, 'enginepool_config_reloads_total{result="success"}')).toBe(1);
    expect(value(metrics, 'enginepool_docker_requests_total{op="list",code="ok"}')).toBeGreaterThan(0);
    expect(metrics).toMatch(
      /^enginepool_docker_request_duration_seconds_bucket\{le="[0-9.]+",op="create"\}/m,
    );
    expect(metrics).toMatch(/^process_cpu_user_seconds_total /m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds /m);
    for (const labels of metrics.matchAll(/\{([^}]*)\}/g)) expect(labels[1]).not.toMatch(/"[0-9a-f]{12,64}"/);
  });
});

describe('the JSON log', () => {
  it('is one JSON object per line, each with a level and a message', () => {
    const lines = ctl.logs.split('\n').filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], line).toContain(entry.level);
      expect(typeof entry.msg, line).toBe('string');
    }
  });

  it('never contains the API token or the Gluetun API key', () => {
    expect(ctl.logs).not.toContain(ctl.token);
    expect(ctl.logs).not.toContain('wrong-token-9e7b');
    expect(ctl.logs).not.toContain(KEY);
  });

  it('has one line per applied action with its pool and reason, and a persisting state only once', () => {
    const lines = ctl.logLines();
    const creates = lines.filter((l) => l.action === 'create' && l.level === 'info');
    expect(creates.map((l) => l.pool)).toEqual(expect.arrayContaining([POOL, VPN_POOL]));
    for (const line of creates) expect(line.reason).toEqual(expect.any(String));
    const limited = lines.filter((l) => l.pool === POOL && String(l.msg).startsWith('capacity limited'));
    expect(limited).toHaveLength(1);
    expect(lines.filter((l) => l.pool === VPN_POOL && l.msg === 'VPN healthy')).toHaveLength(1);
  });
});

describe('enginepool status', () => {
  it('shows both pools of the running controller', async () => {
    const result = await cli(['status', '--url', ctl.url]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^POOL ${POOL} `, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^POOL ${VPN_POOL} `, 'm'));
    expect(result.stdout).toMatch(/vpn ops-obs-gluetun healthy, forwarded port 40123/);
  });
});
