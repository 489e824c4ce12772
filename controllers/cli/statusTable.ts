import type { PoolStatus } from '../../reconcilers/status.js';
import { LABELS } from '../../state/labels.js';
import { httpGet } from '../http/client.js';
import type { EngineInfo } from '../loop/readModel.js';

// `enginepool status`: a running controller's pools, engines and conditions, as tables or JSON.

/** Lays rows out in aligned columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Swarm pools: `  nodes a 2, b 1` from the engines' observed node label; nothing for Docker pools. */
function perNode(engines: readonly EngineInfo[]): string[] {
  const counts = new Map<string, number>();
  for (const e of engines) {
    const node = e.labels[LABELS.node];
    if (node) counts.set(node, (counts.get(node) ?? 0) + 1);
  }
  if (counts.size === 0) return [];
  return [`  nodes ${[...counts].map(([node, n]) => `${node} ${n}`).join(', ')}`];
}

/** The text `status` prints for these pools and engines. */
export function formatStatus(pools: readonly (PoolStatus & { engines: readonly EngineInfo[] })[]): string {
  const blocks: string[] = [];
  for (const pool of pools) {
    const r = pool.replicas;
    const breaker = pool.circuitBreaker;
    const vpn = pool.vpn;
    const lines = [
      `POOL ${pool.name}  generation ${pool.generation} (observed ${pool.observedGeneration})`,
      `  engines ${r.total}: ${r.ready} ready (${r.free} free, ${r.used} used), ${r.starting} starting, ${r.unhealthy} unhealthy, ${r.draining} draining; wanted ${r.desired} (minFree ${r.minFree}, min ${r.min}, max ${r.max})`,
      `  circuit breaker ${breaker.state}${breaker.retryAt ? ` until ${breaker.retryAt}` : ''}${breaker.failures > 0 ? ` (${breaker.failures} failures)` : ''}`,
      ...perNode(pool.engines),
      ...(vpn.enabled
        ? [
            `  vpn ${vpn.container} ${vpn.phase}, forwarded port ${vpn.forwardedPort ?? '-'}${vpn.publicIp ? `, public ip ${vpn.publicIp}` : ''}${vpn.lastError ? `, last error: ${vpn.lastError}` : ''}`,
          ]
        : []),
      '',
      pool.engines.length === 0
        ? '  (no engines)'
        : table([
            ['ENGINE', 'STATE', 'PORT', 'STREAMS', 'FORWARDED', 'ADDRESS', 'CONTAINER'],
            ...pool.engines.map((e) => [
              e.name,
              e.state,
              String(e.hostPort),
              String(e.streams),
              e.forwarded ? 'yes' : '-',
              `${e.host}:${e.port}`,
              e.containerId.slice(0, 12),
            ]),
          ]),
      '',
      table([
        ['CONDITION', 'STATUS', 'REASON', 'MESSAGE'],
        ...pool.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
      ]),
    ];
    blocks.push(lines.join('\n'));
  }
  return blocks.join('\n\n');
}

/** The most of one answer `status` reads (a few thousand engines' JSON). */
const REPLY_LIMIT = 16 * 1024 * 1024;

/** Fetches and prints a controller's status; 0, or 2 when it cannot be reached. */
export async function renderStatus(
  url: string,
  output: 'table' | 'json',
  io: { out: (text: string) => void; err: (text: string) => void },
): Promise<number> {
  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const answer = await httpGet(new URL(path, url).href, { timeoutMs: 5_000, maxBytes: REPLY_LIMIT });
    if (!answer.ok) throw new Error(answer.error);
    return { status: answer.status, body: JSON.parse(answer.body) as T };
  };
  const ok = async <T>(path: string): Promise<T> => {
    const answer = await get<T>(path);
    if (answer.status !== 200) throw new Error(`${path} answered ${answer.status}`);
    return answer.body;
  };
  let pools: (PoolStatus & { engines: EngineInfo[] })[];
  let notReady: string | undefined;
  try {
    const statuses = await ok<PoolStatus[]>('/api/v1/pools');
    if (statuses.length === 0) {
      const readyz = await get<{ error?: { message?: string } }>('/readyz');
      if (readyz.status !== 200) notReady = readyz.body.error?.message;
    }
    pools = await Promise.all(
      statuses.map(async (s) => ({
        ...s,
        engines: await ok<EngineInfo[]>(`/api/v1/pools/${encodeURIComponent(s.name)}/engines`),
      })),
    );
  } catch (error) {
    io.err(`cannot reach the controller at ${url}: ${(error as Error).message}`);
    return 2;
  }
  if (output === 'json') io.out(JSON.stringify(pools, null, 2));
  else if (pools.length === 0)
    io.out(`no pools yet: ${notReady ?? 'the controller has not observed Docker yet'}`);
  else io.out(formatStatus(pools));
  return 0;
}
