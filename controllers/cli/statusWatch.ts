import { duration, headline, overallHealth } from '../http/status/page.js';
import type { StatusSnapshot } from '../http/status/snapshot.js';
import { table } from './statusTable.js';

// `enginepool status --watch`: the status page's picture in a terminal, redrawn from the same event
// stream (`GET /api/v1/status/events`) whenever it changes, and on every heartbeat for the ages.

/** The text of one snapshot: the overall state, then each pool's figures, engines, machines and actions. */
export function formatSnapshot(snapshot: StatusSnapshot): string {
  const now = Date.parse(snapshot.at);
  const ago = (iso: string | null) => (iso ? `${duration(now - Date.parse(iso))} ago` : 'never');
  const lines = [
    `${overallHealth(snapshot).toUpperCase()}  ${headline(snapshot)}`,
    `Docker observed ${ago(snapshot.observedAt)}; desired-state file ${snapshot.config.valid ? 'valid' : 'INVALID (the last valid one is in force)'}, loaded ${ago(snapshot.config.reloadedAt)}`,
    ...snapshot.config.problems.map(
      (p) => `  ${p.line === null ? '' : `line ${p.line}: `}${p.path ? `${p.path}: ` : ''}${p.message}`,
    ),
  ];
  for (const pool of snapshot.pools) {
    const r = pool.replicas;
    const breaker = pool.circuitBreaker;
    const vpn = pool.vpn;
    const transition = (t: (typeof breaker)['lastTransition']) =>
      t ? `; ${t.from} -> ${t.to} ${ago(t.at)}: ${t.reason}` : '';
    lines.push(
      '',
      `POOL ${pool.name}  ${pool.health.toUpperCase()}  ${pool.summary}`,
      `  free ${r.free} of minFree ${r.minFree}, total ${r.total} of max ${r.max}, ${r.used} in use, ${r.starting} starting`,
      `  circuit breaker ${breaker.state}${breaker.failures > 0 ? ` (${breaker.failures} failures)` : ''}${transition(breaker.lastTransition)}`,
      `  vpn ${vpn.enabled ? `${vpn.container} ${vpn.phase}${vpn.forwardedPort === null ? '' : `, forwarded port ${vpn.forwardedPort}`}${transition(vpn.lastTransition)}` : 'none'}`,
      '',
      pool.engines.length === 0
        ? '  (no engines)'
        : table([
            ['ENGINE', 'STATE', 'HEALTH', 'PORT', 'STREAMS', 'FORWARDED', 'AGE'],
            ...pool.engines.map((e) => [
              e.name,
              e.state,
              e.health,
              String(e.port),
              e.streams > 0 ? `${e.streams} <` : '0',
              e.forwarded ? 'yes' : '-',
              duration(now - Date.parse(e.createdAt)),
            ]),
          ]),
      '',
      table([
        ['CONDITION', 'STATUS', 'REASON', 'MESSAGE'],
        ...pool.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
      ]),
      ...(pool.actions.length === 0
        ? []
        : [
            '',
            'LAST ACTIONS',
            ...pool.actions
              .slice(0, 5)
              .map(
                (a) =>
                  `  ${ago(a.at)}  ${a.kind} ${a.engine}: ${a.reason}${a.ok ? '' : ` (failed: ${a.error})`}`,
              ),
          ]),
    );
  }
  return lines.join('\n');
}

/** One server-sent event. */
interface ServerEvent {
  readonly event: string;
  readonly data: string;
}

/** Reads server-sent events from a response body until it ends. */
async function* serverEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) yield { event, data: data.join('\n') };
      end = buffer.indexOf('\n\n');
    }
  }
}

/** Options of {@link watchStatus}. */
export interface WatchOptions {
  readonly url: string;
  readonly io: { out: (text: string) => void; err: (text: string) => void };
  /** Clear the screen before each picture (a terminal); otherwise pictures follow one another. */
  readonly clear: boolean;
  /** Ends the watch (Ctrl-C ends the process anyway). */
  readonly signal?: AbortSignal;
}

/** Follows the controller's status until stopped; 2 when it cannot be reached at the start. */
export async function watchStatus(options: WatchOptions): Promise<number> {
  const { io } = options;
  let connectedOnce = false;
  while (!options.signal?.aborted) {
    try {
      const response = await fetch(new URL('/api/v1/status/events', options.url), {
        headers: { Accept: 'text/event-stream' },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!response.ok || !response.body) throw new Error(`the event stream answered ${response.status}`);
      connectedOnce = true;
      let last: StatusSnapshot | undefined;
      for await (const { event, data } of serverEvents(response.body)) {
        if (event === 'status') last = JSON.parse(data) as StatusSnapshot;
        else if (event === 'heartbeat' && last) last = { ...last, ...(JSON.parse(data) as object) };
        else continue;
        io.out(`${options.clear ? '\x1b[H\x1b[2J' : ''}${formatSnapshot(last)}\n`);
      }
      io.err('the event stream ended; reconnecting');
    } catch (error) {
      if (options.signal?.aborted) break;
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      if (!connectedOnce) {
        io.err(`cannot reach the controller at ${options.url}: ${cause}`);
        return 2;
      }
      io.err(`lost the controller at ${options.url} (${cause}); reconnecting`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return 0;
}
