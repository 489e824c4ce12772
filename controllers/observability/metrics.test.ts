import { describe, expect, it, vi } from 'vitest';
import { POOL_FAMILIES, VPN_POOL_FAMILIES } from '../../test/support/poolMetrics.js';
import { Metrics, type PoolGauges } from './metrics.js';

// The metric families of contract §5 and issue 6, on a registry of their own: names, labels, series
// started at 0 so alerts see the first failure, and nothing left behind when a pool leaves the file.

const gauges: PoolGauges = {
  engines: { starting: 1, ready: 2, unhealthy: 0, draining: 0 },
  desired: 3,
  free: 1,
  minFree: 2,
  max: 5,
  streams: 1,
  breakerState: 'closed',
  vpn: { phase: 'healthy', forwardedPort: 40123 },
};

async function series(metrics: Metrics): Promise<string[]> {
  return (await metrics.render()).body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('Metrics', () => {
  it('exports every family the issue names, with a pool label where it applies', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.pool('ace', gauges);
    metrics.reconciled('ace', 'success', 0.02, 1_700_000_000_000);
    metrics.dockerCall('list', 'ok', 0.003);
    metrics.configReload(true, 1_700_000_000_000);
    const lines = await series(metrics);
    for (const name of [...POOL_FAMILIES, ...VPN_POOL_FAMILIES]) {
      expect(
        lines.some((l) => l.startsWith(`${name}{`) && l.includes('pool="ace"')),
        name,
      ).toBe(true);
    }
    for (const line of [
      'enginepool_docker_requests_total{op="list",code="ok"} 1',
      'enginepool_docker_request_duration_seconds_count{op="list"} 1',
      'enginepool_config_reloads_total{result="success"} 1',
      'enginepool_config_reloads_total{result="failure"} 0',
      'enginepool_config_last_reload_successful 1',
      'enginepool_engines{pool="ace",state="ready"} 2',
      'enginepool_circuit_breaker_state{pool="ace",state="closed"} 1',
      'enginepool_circuit_breaker_state{pool="ace",state="open"} 0',
      'enginepool_vpn_phase{pool="ace",phase="healthy"} 1',
      'enginepool_vpn_forwarded_port{pool="ace"} 40123',
      'enginepool_last_reconcile_timestamp_seconds 1700000000',
    ]) {
      expect(lines).toContain(line);
    }
  });

  it('starts failure counters at 0 for a new pool, so increase() sees the first one', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.reconciled('ace', 'success', 0.01, 0);
    const lines = await series(metrics);
    expect(lines).toContain('enginepool_reconcile_errors_total{pool="ace"} 0');
    expect(lines).toContain('enginepool_reconcile_total{pool="ace",result="error"} 0');
    for (const reason of [
      'ImageNotFound',
      'CreateFailed',
      'StartFailed',
      'ExitedBeforeReady',
      'StartupTimeout',
    ])
      expect(lines).toContain(`enginepool_provisioning_failures_total{pool="ace",reason="${reason}"} 0`);
    metrics.provisioningFailure('ace', 'StartupTimeout');
    expect(await series(metrics)).toContain(
      'enginepool_provisioning_failures_total{pool="ace",reason="StartupTimeout"} 1',
    );
  });

  it('drops every series of a pool that left the file, and starts over if it comes back', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.pool('ace', gauges);
    metrics.reconciled('ace', 'error', 0.01, 0);
    metrics.action('ace', 'create', true);
    metrics.provisioningFailure('ace', 'ImageNotFound');
    metrics.forgetPool('ace');
    expect((await series(metrics)).filter((l) => l.includes('pool="ace"'))).toEqual([]);
    metrics.reconciled('ace', 'success', 0.01, 0);
    expect(await series(metrics)).toContain('enginepool_reconcile_errors_total{pool="ace"} 0');
  });

  it('keeps the default process and Node.js metrics, minus the gauges promtool rejects', async () => {
    const metrics = new Metrics();
    const json = await metrics.registry.getMetricsAsJSON();
    metrics.close();
    const names = json.map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining(['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']),
    );
    for (const metric of json) {
      // prom-client types `type` as a numeric enum, but serialises it as the Prometheus type name.
      if ((metric.type as unknown as string) !== 'counter')
        expect(metric.name, `${metric.type} ${metric.name}`).not.toMatch(/_total$/);
      else expect(metric.name).toMatch(/_total$/);
      if (metric.name.startsWith('enginepool_')) expect(metric.help.length).toBeGreaterThan(10);
    }
  });

  it('says which build runs, and counts API requests by route pattern and code with their latency', async () => {
    const metrics = new Metrics({ defaultMetrics: false, build: { version: '1.2.3', revision: 'abc123' } });
    metrics.httpRequest('/events/stream_started', 'POST', 200, 0.004);
    metrics.httpRequest('/events/stream_started', 'POST', 401, 0.001);
    metrics.httpRequest('unmatched', 'GET', 404, 0.001);
    const lines = await series(metrics);
    expect(lines).toContain(
      `enginepool_build_info{version="1.2.3",revision="abc123",nodejs_version="${process.version}"} 1`,
    );
    expect(lines).toContain(
      'enginepool_http_requests_total{route="/events/stream_started",method="POST",code="200"} 1',
    );
    expect(lines).toContain(
      'enginepool_http_requests_total{route="/events/stream_started",method="POST",code="401"} 1',
    );
    expect(lines).toContain('enginepool_http_requests_total{route="unmatched",method="GET",code="404"} 1');
    expect(lines).toContain(
      'enginepool_http_request_duration_seconds_count{route="/events/stream_started",method="POST"} 2',
    );
  });

  it('keeps the event-loop delay cumulatively: a held loop shows, and a scrape does not reset it', async () => {
    const metrics = new Metrics();
    const heldOver100ms = async () => {
      const text = (await metrics.render()).body;
      const value = (series: string) =>
        Number(
          text
            .split('\n')
            .find((line) => line.startsWith(`enginepool_event_loop_delay_seconds_${series} `))
            ?.split(' ')[1],
        );
      return value('count') - value('bucket{le="0.1"}');
    };
    try {
      // Hold the loop 300 ms, as a long pass or GC would: the sample due meanwhile fires >= 200 ms late.
      const until = performance.now() + 300;
      while (performance.now() < until) Math.sqrt(until);
      const seen = await vi.waitFor(
        async () => {
          const held = await heldOver100ms();
          expect(held).toBeGreaterThanOrEqual(1);
          return held;
        },
        { timeout: 2_000 },
      );
      expect(await heldOver100ms()).toBeGreaterThanOrEqual(seen);
    } finally {
      metrics.close();
    }
  });
});
