import type { MachineView, StreamFacts } from '../../reconcilers/engines.js';
import type { RemovalFailure } from '../../reconcilers/stuck.js';
import type { ProbeRecord } from '../../state/health.js';
import { engineName, LABELS } from '../../state/labels.js';
import type { BreakerView } from '../../state/machines/circuitBreaker.js';
import type { VpnView } from '../../state/machines/vpnLifecycle.js';
import {
  type DockerContainerDetails,
  type DockerContainerSummary,
  type ObservedWorld,
  observeWorld,
} from '../../state/observed.js';
import { type DesiredSpec, type PoolSpec, parseSpec } from '../../state/spec/index.js';

// Builders for pure tests: specs from real YAML, Docker list items, and machine views.

/** What {@link poolYaml} varies. */
export interface PoolYamlOptions {
  readonly name?: string;
  readonly replicas?: string;
  /** `spec` lines merged in (indented under `spec:`). */
  readonly extra?: string;
  readonly image?: string;
  readonly range?: string;
}

/** The YAML document of one pool. */
export function poolYaml(options: PoolYamlOptions = {}): string {
  return `apiVersion: enginepool/v1
kind: EnginePool
metadata:
  name: ${options.name ?? 'ace'}
spec:
  template:
    image: ${options.image ?? 'engine:1'}
    args: ["--http-port={{httpPort}}", "--port={{p2pPort}}"]
  replicas: ${options.replicas ?? '{ minFree: 1, max: 5, scaleDownDelaySeconds: 30 }'}
  ports:
    hostRange: ${options.range ?? '19000-19009'}
${options.extra ?? ''}`;
}

/** A pool parsed from {@link poolYaml}. */
export function poolSpec(options: PoolYamlOptions = {}): PoolSpec {
  const result = parseSpec(poolYaml(options));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.spec.pools[0]!;
}

/** A desired spec with the given pools. */
export function desired(...pools: PoolSpec[]): DesiredSpec {
  return { pools };
}

/** A Docker list item of an engine of `pool`, running and current unless told otherwise. */
export function engine(
  pool: PoolSpec,
  index: number,
  options: {
    port?: number;
    state?: string;
    status?: string;
    hash?: string;
    forwarded?: boolean;
    p2pPort?: number;
    createdAt?: number;
    networkMode?: string;
  } = {},
): DockerContainerSummary {
  const port = options.port ?? 19000 + index - 1;
  const state = options.state ?? 'running';
  return {
    Id: `id-${pool.name}-${index}`,
    Names: [`/${engineName(pool.name, index)}`],
    Image: pool.template.image,
    State: state,
    Status: options.status ?? (state === 'running' ? 'Up 1 minute' : 'Exited (1) 1 second ago'),
    Created: (options.createdAt ?? 0) / 1000,
    Labels: {
      [LABELS.pool]: pool.name,
      [LABELS.hostPort]: String(port),
      [LABELS.specHash]: options.hash ?? pool.templateHash,
      ...(options.forwarded ? { [LABELS.forwarded]: 'true' } : {}),
      ...(options.p2pPort !== undefined ? { [LABELS.p2pPort]: String(options.p2pPort) } : {}),
      ...(pool.vpn ? { [LABELS.vpn]: pool.vpn.gluetun.container } : {}),
    },
    Ports: pool.vpn || state !== 'running' ? [] : [{ PrivatePort: port, PublicPort: port, Type: 'tcp' }],
    HostConfig: { NetworkMode: options.networkMode ?? 'bridge' },
  };
}

/** A container that is not ours. */
export function foreign(
  name: string,
  options: { ports?: number[]; state?: string } = {},
): DockerContainerSummary {
  return {
    Id: `id-${name}`,
    Names: [`/${name}`],
    State: options.state ?? 'running',
    Status: 'Up',
    Created: 0,
    Labels: {},
    Ports: (options.ports ?? []).map((port) => ({ PrivatePort: 80, PublicPort: port, Type: 'tcp' })),
  };
}

/** The world from list items, VPN inspects and engine start times. */
export function world(
  list: DockerContainerSummary[],
  options: {
    vpns?: Record<string, DockerContainerDetails | undefined>;
    startedAt?: Record<string, number>;
    stoppedBindings?: Record<string, number[]>;
    now?: number;
  } = {},
): ObservedWorld {
  return observeWorld(
    list,
    {
      stoppedBindings: new Map(Object.entries(options.stoppedBindings ?? {})),
      vpnDetails: new Map(Object.entries(options.vpns ?? {})),
      engineStartedAt: new Map(Object.entries(options.startedAt ?? {})),
    },
    options.now ?? 0,
  );
}

/** A ready probe record (ready since `at`). */
export function ready(at = 0): ProbeRecord {
  return { firstSeenAt: at, lastProbeAt: at, readyAt: at, consecutiveFailures: 0 };
}

/** Machine views; everything defaults to "nothing known". */
export function view(
  options: {
    probes?: Record<string, ProbeRecord>;
    streams?: Record<string, StreamFacts>;
    poolLastStreamEndedAt?: Record<string, number>;
    breakers?: Record<string, BreakerView>;
    vpns?: Record<string, VpnView>;
    setAsidePorts?: number[];
    provisionRequests?: Record<string, number>;
    removalFailures?: Record<string, RemovalFailure>;
  } = {},
): MachineView {
  return {
    probes: new Map(Object.entries(options.probes ?? {})),
    streams: new Map(Object.entries(options.streams ?? {})),
    poolLastStreamEndedAt: new Map(Object.entries(options.poolLastStreamEndedAt ?? {})),
    breakers: new Map(Object.entries(options.breakers ?? {})),
    vpns: new Map(Object.entries(options.vpns ?? {})),
    setAsidePorts: new Set(options.setAsidePorts ?? []),
    countFailuresSince: 0,
    provisionRequests: new Map(Object.entries(options.provisionRequests ?? {})),
    removalFailures: new Map(Object.entries(options.removalFailures ?? {})),
  };
}

/** Probe records marking these engines of `pool` ready. */
export function allReady(pool: PoolSpec, indexes: number[], at = 0): Record<string, ProbeRecord> {
  return Object.fromEntries(indexes.map((i) => [`id-${pool.name}-${i}`, ready(at)]));
}

/** The `spec` lines of a VPN pool behind Gluetun container `gluetun` (for {@link poolSpec}'s `extra`). */
export function vpnExtra(settings: Record<string, string | number | boolean> = {}): string {
  const lines = Object.entries({ container: 'gluetun', ...settings }).map(
    ([key, value]) => `      ${key}: ${value}\n`,
  );
  return `  vpn:\n    gluetun:\n${lines.join('')}`;
}

/** Docker's inspect of the Gluetun container: running, publishing the pool's whole default range. */
export function gluetunDetails(
  options: { id?: string; state?: string; startedAt?: number; ports?: number[] } = {},
): DockerContainerDetails {
  const ports = options.ports ?? Array.from({ length: 10 }, (_, i) => 19000 + i);
  return {
    Id: options.id ?? 'id-gluetun',
    Name: '/gluetun',
    State: {
      Status: options.state ?? 'running',
      Running: (options.state ?? 'running') === 'running',
      StartedAt: new Date(options.startedAt ?? 0).toISOString(),
    },
    HostConfig: {
      PortBindings: Object.fromEntries(ports.map((p) => [`${p}/tcp`, [{ HostPort: String(p) }]])),
    },
  };
}

/** A VPN machine's view: healthy with no forwarded port unless told otherwise. */
export function vpnState(options: Partial<VpnView> = {}): VpnView {
  return {
    phase: 'healthy',
    forwardedPort: null,
    publicIp: null,
    lastError: null,
    failures: 0,
    recoveredAt: null,
    ...options,
  };
}
