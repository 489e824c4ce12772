import { z } from 'zod';
import type { ProvisionRefusal } from '../../../reconcilers/provision.js';
import type { PoolStatus } from '../../../reconcilers/status.js';
import { iso } from '../../../state/clock.js';
import type { EngineInfo } from '../../loop/readModel.js';
import type { StreamRecord } from '../../streams/registry.js';

// The peer's payloads (shared/reference/apis.md §6): request bodies as loose zod objects (a proxy may
// send fields this controller does not use) and the shapes of its answers.

const HttpUrl = z.url({ protocol: /^https?$/ }).max(2048);
const OptionalUrl = z.union([HttpUrl, z.literal('')]).nullish();
const Labels = z.record(z.string(), z.string().max(1024)).nullish();

export const StreamStarted = z.looseObject({
  container_id: z.string().max(256).nullish(),
  engine: z.looseObject({
    host: z.string().min(1).max(256),
    port: z.number().int().min(1).max(65535),
  }),
  stream: z.looseObject({
    key_type: z.enum(['content_id', 'infohash', 'url', 'magnet']),
    key: z.string().min(1).max(4096),
  }),
  session: z.looseObject({
    // Why empty is allowed: acexy sends "" when it cannot read the id from the stat URL; the peer takes it.
    playback_session_id: z.string().max(256),
    stat_url: OptionalUrl,
    command_url: OptionalUrl,
    is_live: z.union([z.literal(0), z.literal(1), z.boolean()]).optional(),
  }),
  labels: Labels,
});

export const StreamEnded = z.looseObject({
  container_id: z.string().max(256).nullish(),
  stream_id: z.string().max(256).nullish(),
  reason: z.string().max(1024).nullish(),
});

export const ProvisionBody = z
  .looseObject({
    image: z.string().nullish(),
    labels: Labels,
    env: Labels,
    host_port: z.number().int().nullish(),
  })
  .optional();

/**
 * The engine a proxy names: by container id (full, a prefix of 12 or more, or the container name), else
 * by the host and port it reached it on (the address `GET /engines` gives, or the published host port).
 */
export function findEngine(
  engines: readonly EngineInfo[],
  by: { readonly containerId?: string; readonly host?: string; readonly port?: number },
): EngineInfo | undefined {
  const id = by.containerId?.trim();
  if (id) {
    const byId = engines.find(
      (e) => e.containerId === id || e.name === id || (id.length >= 12 && e.containerId.startsWith(id)),
    );
    // Why: some proxies send their own container id here; the address still names the engine.
    if (byId) return byId;
  }
  if (by.port === undefined) return undefined;
  return (
    engines.find((e) => e.host === by.host && e.port === by.port) ??
    engines.find((e) => e.hostPort === by.port)
  );
}

/** A stream as acestream-orchestrator's `StreamState`. */
export function streamState(stream: StreamRecord, endedAt?: number) {
  return {
    id: stream.id,
    key_type: stream.key?.type ?? null,
    key: stream.key?.value ?? null,
    container_id: stream.containerId,
    container_name: stream.engine,
    playback_session_id: stream.playbackSessionId ?? null,
    stat_url: stream.statUrl ?? null,
    command_url: stream.commandUrl ?? null,
    is_live: stream.isLive ?? null,
    started_at: iso(stream.startedAt),
    ended_at: endedAt === undefined ? null : iso(endedAt),
    status: endedAt === undefined ? 'started' : 'ended',
    labels: stream.labels ?? {},
  };
}

/** A provisioning refusal as acestream-orchestrator's `detail`. */
export function refusalDetail(refusal: ProvisionRefusal) {
  return {
    error: refusal.code === 'general_error' ? 'provisioning_failed' : 'provisioning_blocked',
    code: refusal.code,
    message: refusal.message,
    recovery_eta_seconds: refusal.recoveryEtaSeconds,
    can_retry: refusal.canRetry,
    should_wait: refusal.shouldWait,
  };
}

/** A pool's VPN as acestream-orchestrator's `/vpn/status` (single mode; `now` in ms). */
export function vpnStatus(status: PoolStatus | undefined, now: number) {
  const vpn = status?.vpn;
  const lastCheck = iso(now);
  if (!status || !vpn?.enabled) {
    return {
      mode: 'disabled',
      enabled: false,
      status: 'disabled',
      connected: false,
      health: 'unknown',
      container: null,
      container_name: null,
      forwarded_port: null,
      public_ip: null,
      last_check: null,
      vpn1: null,
      vpn2: null,
      emergency_mode: { active: false, failed_vpn: null, healthy_vpn: null, duration_seconds: 0 },
    };
  }
  const held = status.conditions.some((c) => c.type === 'Ready' && c.reason === 'VpnNotReady');
  const connected = !held && (vpn.phase === 'healthy' || vpn.phase === 'recovering');
  const single = {
    enabled: true,
    status: vpn.phase === 'unknown' ? 'unknown' : connected ? 'running' : 'stopped',
    container_name: vpn.container,
    container: vpn.container,
    health: vpn.phase === 'unknown' ? 'unknown' : connected ? 'healthy' : 'unhealthy',
    connected,
    forwarded_port: vpn.forwardedPort,
    public_ip: vpn.publicIp,
    last_check: lastCheck,
  };
  // The peer's emergency mode is "a VPN failed"; here that is the pool VPN's emergency phase, dated
  // by the condition that reports it.
  const since = status.conditions.find((c) => c.type === 'Degraded' && c.reason === 'VpnDown');
  const enteredAt = since ? Date.parse(since.lastTransitionTime) : now;
  const emergency_mode =
    vpn.phase === 'emergency'
      ? {
          active: true,
          failed_vpn: vpn.container,
          healthy_vpn: null,
          duration_seconds: Math.max(0, Math.round((now - enteredAt) / 1000)),
          entered_at: iso(enteredAt),
        }
      : { active: false, failed_vpn: null, healthy_vpn: null, duration_seconds: 0 };
  return { mode: 'single', ...single, vpn1: single, vpn2: null, emergency_mode };
}
