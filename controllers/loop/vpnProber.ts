import type { Clock, TimerHandle } from '../../state/clock.js';
import { parseForwardedPort, parsePublicIp, parseVpnStatus } from '../../state/gluetun.js';
import { stableHash } from '../../state/labels.js';
import { type GluetunSettings, type PoolSpec, redactUrlCredentials } from '../../state/spec/index.js';
import { httpGet } from '../http/client.js';
import type { Logger } from '../observability/logger.js';
import type { Runtime } from '../runtime/runtime.js';

// The VPN probe: Docker's view of the VPN container (running, HEALTHCHECK status) and Gluetun's
// control server (VPN status, public IP, forwarded port). A 401 on the port route means "no
// forwarding for us", not "down".

/** Why a probe failed: the VPN container, the control server's reachability, its auth, or its answer. */
export type VpnProbeCause = 'container' | 'unreachable' | 'unauthorized' | 'answer';

/** One probe's outcome. A `warning` says the API key was refused (401) on a route the probe could do without. */
export type VpnProbeResult =
  | {
      readonly ok: true;
      readonly forwardedPort: number | null;
      readonly publicIp: string | null;
      readonly warning?: string;
    }
  | { readonly ok: false; readonly reason: string; readonly cause: VpnProbeCause };

/** Gluetun's answers are a few bytes of JSON; more is not a control server. */
const CONTROL_BODY_LIMIT = 64 * 1024;

interface Answer {
  readonly status: number;
  readonly body: string;
}

async function get(
  base: string,
  path: string,
  apiKey: string | undefined,
  timeoutMs: number,
  client: typeof httpGet,
): Promise<Answer> {
  const answer = await client(new URL(path, base).href, {
    timeoutMs,
    maxBytes: CONTROL_BODY_LIMIT,
    headers: apiKey ? { 'X-API-Key': apiKey } : {},
  });
  if (!answer.ok) throw new Error(answer.error);
  return answer;
}

function describe(error: unknown): string {
  return (error as Error).message ?? String(error);
}

/** Probes one VPN once: Docker's view of its container, then its control server. */
export async function probeVpn(
  docker: Runtime,
  settings: GluetunSettings,
  timeoutMs = 3_000,
  client = httpGet,
): Promise<VpnProbeResult> {
  const details = await docker.inspectContainer(settings.container);
  if (!details)
    return {
      ok: false,
      cause: 'container',
      reason: `VPN container "${settings.container}" does not exist`,
    };
  const state = details.State?.Status ?? 'unknown';
  if (state !== 'running')
    return { ok: false, cause: 'container', reason: `VPN container "${settings.container}" is ${state}` };
  const health = details.State?.Health?.Status;
  if (health === 'unhealthy' || health === 'starting') {
    return {
      ok: false,
      cause: 'container',
      reason: `Docker reports VPN container "${settings.container}" ${health}`,
    };
  }
  return await probeControlServer(settings, health, timeoutMs, client);
}

/**
 * Probes Gluetun's control server: VPN status, public IP and (when wanted) the forwarded port.
 * `dockerHealth` is the container's Docker health status: when it is `healthy`, a refused key (401)
 * is only a warning; without it a 401 is a failure, since nothing else vouches for the VPN.
 */
export async function probeControlServer(
  settings: GluetunSettings,
  dockerHealth: string | undefined,
  timeoutMs = 3_000,
  client = httpGet,
): Promise<VpnProbeResult> {
  const base = settings.controlUrl;
  // Why: a controlUrl may carry user:password@; messages end up in logs, status and /vpn/status.
  const shown = redactUrlCredentials(base);
  let status: Answer;
  try {
    status = await get(base, '/v1/vpn/status', settings.apiKey, timeoutMs, client);
  } catch (error) {
    return {
      ok: false,
      cause: 'unreachable',
      reason: `control server ${shown} unreachable: ${describe(error)}`,
    };
  }
  let warning: string | undefined;
  if (status.status === 401) {
    // Why: 401 means the server is up but our key is refused; Docker's health check still tells the truth.
    if (dockerHealth !== 'healthy') {
      return {
        ok: false,
        cause: 'unauthorized',
        reason: `control server ${shown} refused the API key (401) and the container has no health status`,
      };
    }
    warning = `control server ${shown} refused the API key (401); set vpn.gluetun.apiKey`;
  } else if (status.status !== 200) {
    return {
      ok: false,
      cause: 'answer',
      reason: `control server answered ${status.status} to /v1/vpn/status: ${status.body.trim()}`,
    };
  } else {
    const vpnStatus = parseVpnStatus(status.body);
    if (vpnStatus !== 'running')
      return { ok: false, cause: 'answer', reason: `VPN status is "${vpnStatus ?? status.body.trim()}"` };
  }
  let publicIp: string | null = null;
  try {
    const answer = await get(base, '/v1/publicip/ip', settings.apiKey, timeoutMs, client);
    if (answer.status === 200) publicIp = parsePublicIp(answer.body);
  } catch {
    // The public IP is informative only.
  }
  let forwardedPort: number | null = null;
  if (settings.forwardedPort) {
    try {
      let answer = await get(base, '/v1/portforward', settings.apiKey, timeoutMs, client);
      if (answer.status === 400 || answer.status === 404) {
        answer = await get(base, '/v1/openvpn/portforwarded', settings.apiKey, timeoutMs, client);
      }
      if (answer.status === 200) forwardedPort = parseForwardedPort(answer.body);
      else if (answer.status === 401)
        warning ??= `control server ${shown} refused the API key for the forwarded port (401)`;
    } catch (error) {
      return {
        ok: false,
        cause: 'unreachable',
        reason: `control server ${shown} unreachable: ${describe(error)}`,
      };
    }
  }
  return { ok: true, forwardedPort, publicIp, ...(warning ? { warning } : {}) };
}

/** Options of a {@link VpnProber}. */
export interface VpnProberOptions {
  readonly docker: Runtime;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The HTTP client of the control server; the real one unless a test injects another. */
  readonly httpGet?: typeof httpGet;
  readonly onResult: (pool: string, result: VpnProbeResult, at: number) => void;
}

/** Probes each VPN pool's VPN on its own `healthIntervalSeconds`. */
export class VpnProber {
  private readonly timers = new Map<string, { timer: TimerHandle; settings: GluetunSettings }>();
  private readonly warnings = new Map<string, string>();
  private closed = false;

  constructor(private readonly options: VpnProberOptions) {}

  /** Probes the VPNs of these pools (at once for a new or changed one); stops probing the others. */
  sync(pools: readonly PoolSpec[]): void {
    const wanted = new Map(pools.flatMap((p) => (p.vpn ? [[p.name, p.vpn.gluetun] as const] : [])));
    for (const [pool, entry] of this.timers) {
      const settings = wanted.get(pool);
      if (!settings || stableHash(settings) !== stableHash(entry.settings)) {
        this.options.clock.clearTimeout(entry.timer);
        this.timers.delete(pool);
      }
    }
    for (const [pool, settings] of wanted) if (!this.timers.has(pool)) this.schedule(pool, settings, 0);
  }

  private schedule(pool: string, settings: GluetunSettings, delayMs: number): void {
    if (this.closed) return;
    const timer = this.options.clock.setTimeout(async () => {
      let result: VpnProbeResult;
      try {
        result = await probeVpn(this.options.docker, settings, undefined, this.options.httpGet);
      } catch (error) {
        result = {
          ok: false,
          cause: 'container',
          reason: `cannot inspect the VPN container: ${(error as Error).message}`,
        };
      }
      if (this.timers.get(pool)?.timer !== timer) return;
      this.noteWarning(pool, result.ok ? result.warning : undefined);
      this.options.onResult(pool, result, this.options.clock.now());
      this.schedule(pool, settings, settings.healthIntervalSeconds * 1000);
    }, delayMs);
    this.timers.set(pool, { timer, settings });
  }

  /** Logs a refused API key when it starts and when it stops, not on every probe. */
  private noteWarning(pool: string, warning: string | undefined): void {
    if (this.warnings.get(pool) === warning) return;
    const log = this.options.logger.child({ pool });
    if (warning) log.warn({ vpn: true }, warning);
    else log.info({ vpn: true }, 'the VPN control server accepts the API key again');
    if (warning) this.warnings.set(pool, warning);
    else this.warnings.delete(pool);
  }

  /** Stops probing. */
  close(): void {
    this.closed = true;
    for (const { timer } of this.timers.values()) this.options.clock.clearTimeout(timer);
    this.timers.clear();
  }
}
