import { describe, expect, it } from 'vitest';
import type { PoolStatus } from '../../../reconcilers/status.js';
import { formatSnapshot } from '../../cli/statusWatch.js';
import type { EngineInfo } from '../../loop/readModel.js';
import { duration, renderLive, renderPage } from './page.js';
import { type SnapshotInput, statusSnapshot } from './snapshot.js';

const NOW = Date.parse('2026-12-07T20:00:00Z');

function status(overrides: Partial<PoolStatus> = {}): PoolStatus {
  const condition = (type: string, s: string, reason: string, message: string) => ({
    type: type as 'Ready',
    status: s as 'True',
    reason,
    message,
    lastTransitionTime: '2026-12-07T19:59:00.000Z',
  });
  return {
    name: 'tv',
    generation: 2,
    observedGeneration: 2,
    replicas: {
      total: 2,
      ready: 2,
      free: 2, // as of the last pass; the engines below carry a stream since
      used: 0,
      starting: 0,
      unhealthy: 0,
      draining: 0,
      desired: 2,
      minFree: 1,
      min: 0,
      max: 4,
    },
    conditions: [
      condition('Ready', 'True', 'MinFreeAvailable', '1 free engines ready (minFree 1)'),
      condition('Degraded', 'False', 'AsExpected', 'no provisioning problem'),
    ],
    vpn: {
      enabled: true,
      container: 'gluetun',
      phase: 'healthy',
      forwardedPort: 41234,
      publicIp: '203.0.113.7',
      lastError: null,
    },
    circuitBreaker: { state: 'closed', failures: 0 },
    ...overrides,
  };
}

function engine(name: string, streams: number): EngineInfo {
  return {
    name,
    containerId: `${name}-container-id`,
    pool: 'tv',
    host: '10.0.0.9',
    port: 19000,
    hostPort: 19000,
    state: 'ready',
    health: 'healthy',
    streams,
    forwarded: streams === 0,
    createdAt: '2026-12-07T19:58:00.000Z',
    labels: { 'io.enginepool.pool': 'tv', secret: 'label-value' },
  };
}

function input(overrides: Partial<SnapshotInput> = {}): SnapshotInput {
  return {
    now: NOW,
    observedAt: NOW - 1_000,
    readiness: { ready: true, reason: 'ok' },
    specState: { generations: new Map(), reloadedAt: NOW - 60_000 },
    pools: [
      {
        status: status(),
        engines: [engine('tv-1', 2), engine('tv-2', 0)],
        actions: [
          { at: NOW - 5_000, kind: 'create', engine: 'tv-2', reason: 'scale up', ok: true },
          { at: NOW - 9_000, kind: 'remove', engine: 'tv-3', reason: 'unhealthy', ok: false, error: 'busy' },
        ],
        transitions: {
          vpn: { at: NOW - 30_000, from: 'recovering', to: 'healthy', reason: 'probes answer' },
        },
      },
    ],
    ...overrides,
  };
}

describe('the status read model', () => {
  it('shows engines, actions and transitions, and none of the addresses, labels, ids or the public IP', () => {
    const snapshot = statusSnapshot(input());
    const pool = snapshot.pools[0]!;
    expect(pool.health).toBe('ok');
    expect(pool.engines.map((e) => [e.name, e.streams, e.port])).toEqual([
      ['tv-1', 2, 19000],
      ['tv-2', 0, 19000],
    ]);
    expect(pool.actions[1]).toMatchObject({ kind: 'remove', ok: false, error: 'busy' });
    expect([pool.replicas.free, pool.replicas.used]).toEqual([1, 1]); // counted from the engines shown
    expect(pool.vpn.lastTransition).toEqual({
      at: '2026-12-07T19:59:30.000Z',
      from: 'recovering',
      to: 'healthy',
      reason: 'probes answer',
    });
    const text = JSON.stringify(snapshot);
    for (const hidden of ['10.0.0.9', 'container-id', 'label-value', '203.0.113.7'])
      expect(text).not.toContain(hidden);
  });

  it('names a degraded pool by its Degraded condition, a short one as a warning', () => {
    const degraded = status({
      conditions: [
        {
          type: 'Degraded',
          status: 'True',
          reason: 'ImageNotFound',
          message: 'image x not found',
          lastTransitionTime: '2026-12-07T19:59:00.000Z',
        },
      ],
      circuitBreaker: { state: 'open', failures: 5 },
    });
    const short = status({
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'EnginesStarting',
          message: '0 of minFree 1 free engines ready, 1 starting',
          lastTransitionTime: '2026-12-07T19:59:00.000Z',
        },
      ],
    });
    const pools = (s: PoolStatus) => [{ status: s, engines: [], actions: [], transitions: {} }];
    expect(statusSnapshot(input({ pools: pools(degraded) })).pools[0]).toMatchObject({
      health: 'degraded',
      summary: 'image x not found',
    });
    expect(statusSnapshot(input({ pools: pools(short) })).pools[0]!.health).toBe('warning');
  });

  it('lists the problems of an invalid file without the values they quote', () => {
    const snapshot = statusSnapshot(
      input({
        specState: {
          generations: new Map(),
          error: {
            message: 'x',
            issues: [
              {
                document: 1,
                path: 'spec.template.memoryLimit',
                line: 9,
                message: 'expected a size such as 512m, got the string "hunter2 \\"quoted\\""',
              },
            ],
          },
        },
      }),
    );
    expect(snapshot.config).toEqual({
      valid: false,
      reloadedAt: null,
      problems: [
        { line: 9, path: 'spec.template.memoryLimit', message: 'expected a size such as 512m, got a string' },
      ],
    });
  });
});

describe('the status page', () => {
  it('escapes everything it shows', () => {
    const hostile = status({
      name: 'tv',
      circuitBreaker: { state: 'open', failures: 1, lastFailure: '<img src=x onerror=alert(1)>' },
    });
    const html = renderLive(
      statusSnapshot(input({ pools: [{ status: hostile, engines: [], actions: [], transitions: {} }] })),
    );
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('highlights the engine with streams and says the state in words, not colour alone', () => {
    const html = renderLive(statusSnapshot(input()));
    expect(html).toMatch(/<li class="tile tile--ready tile--streaming" data-engine="tv-1">/);
    expect(html).toContain('▶ 2 streams');
    expect(html).toMatch(/<li class="tile tile--ready" data-engine="tv-2">/);
    expect(html).toContain('forwarded');
    expect(html).toContain(
      '<p id="overall-state" class="overall__state"><span aria-hidden="true">✓</span> OK</p>',
    );
  });

  it('is a whole document that loads only its own stylesheet and script', () => {
    const html = renderPage(statusSnapshot(input()), { css: '/ui/status.css?v=1', js: '/ui/status.js?v=2' });
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect([...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]!.slice(0, 5))).toEqual([
      'data:',
      '/ui/s',
      '/ui/s',
    ]);
    expect(html).not.toMatch(/<script>|style="/);
  });

  it('formats durations the way the script does', () => {
    expect([0, 59_999, 60_000, 3_599_999, 3_600_000, 172_800_000].map(duration)).toEqual([
      '0 s',
      '59 s',
      '1 min',
      '59 min',
      '1 h',
      '2 d',
    ]);
  });
});

describe('status --watch', () => {
  it('draws the same picture in text', () => {
    const text = formatSnapshot(statusSnapshot(input()));
    expect(text.split('\n').slice(0, 2)).toEqual([
      'OK  The pool is healthy',
      'Docker observed 1 s ago; desired-state file valid, loaded 1 min ago',
    ]);
    expect(text).toContain(
      'vpn gluetun healthy, forwarded port 41234; recovering -> healthy 30 s ago: probes answer',
    );
    expect(text).toMatch(/tv-1 +ready +healthy +19000 +2 < +- +2 min/);
    expect(text).toContain('9 s ago  remove tv-3: unhealthy (failed: busy)');
  });
});
