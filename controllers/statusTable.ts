import type { PoolStatus } from '../reconcilers/status.js';
import type { EngineInfo } from './controller.js';

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

/** The text `status` prints for these pools and engines. */
export function formatStatus(pools: readonly (PoolStatus & { engines: readonly EngineInfo[] })[]): string {
  if (pools.length === 0) return 'no pools (is a valid desired-state file loaded?)';
  const blocks: string[] = [];
  for (const pool of pools) {
    const r = pool.replicas;
    const lines = [
      `POOL ${pool.name}  generation ${pool.generation} (observed ${pool.observedGeneration})  engines ${r.total} (ready ${r.ready}, free ${r.free}, used ${r.used}, starting ${r.starting}, unhealthy ${r.unhealthy}, draining ${r.draining})  wanted ${r.desired}  minFree ${r.minFree}  max ${r.max}`,
      `breaker ${pool.circuitBreaker.state}${pool.circuitBreaker.retryAt ? ` until ${pool.circuitBreaker.retryAt}` : ''}${pool.vpn ? `  vpn ${pool.vpn.container} ${pool.vpn.phase}  forwarded port ${pool.vpn.forwardedPort ?? '-'}${pool.vpn.publicIp ? `  public ip ${pool.vpn.publicIp}` : ''}` : ''}`,
      '',
      table([
        ['ENGINE', 'STATE', 'ADDRESS', 'STREAMS', 'FORWARDED', 'CONTAINER'],
        ...pool.engines.map((e) => [
          e.name,
          e.state,
          `${e.host}:${e.port}`,
          String(e.streams),
          e.forwarded ? 'yes' : '',
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

/** Fetches and prints a controller's status; 0, or 2 when it cannot be reached. */
export async function renderStatus(
  url: string,
  output: 'table' | 'json',
  io: { out: (text: string) => void; err: (text: string) => void },
): Promise<number> {
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(new URL(path, url), { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return (await response.json()) as T;
  };
  let pools: (PoolStatus & { engines: EngineInfo[] })[];
  try {
    const statuses = await get<PoolStatus[]>('/api/v1/pools');
    pools = await Promise.all(
      statuses.map(async (s) => ({
        ...s,
        engines: await get<EngineInfo[]>(`/api/v1/pools/${encodeURIComponent(s.name)}/engines`),
      })),
    );
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    io.err(`cannot reach the controller at ${url}: ${cause ?? (error as Error).message}`);
    return 2;
  }
  io.out(output === 'json' ? JSON.stringify(pools, null, 2) : formatStatus(pools));
  return 0;
}
