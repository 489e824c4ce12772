import { LABELS } from './labels.js';
import type { PoolSpec } from './spec/index.js';

// What one engine container is made of: the pool's template with its placeholders expanded, the
// labels of contract §4, its port binding (or the VPN's namespace), and no restart policy.

/** The body of Docker's `POST /containers/create` that enginepool sends. */
export interface CreateContainerBody {
  readonly name: string;
  readonly Image: string;
  readonly Cmd?: readonly string[];
  readonly Env?: readonly string[];
  readonly Labels: Readonly<Record<string, string>>;
  readonly ExposedPorts?: Readonly<Record<string, Record<string, never>>>;
  readonly HostConfig: {
    readonly NetworkMode?: string;
    readonly PortBindings?: Readonly<Record<string, readonly { HostIp?: string; HostPort: string }[]>>;
    readonly Memory?: number;
    readonly RestartPolicy: { readonly Name: 'no' };
  };
}

/** The place a create was given: its name and ports. */
export interface EngineSlot {
  readonly name: string;
  readonly index: number;
  readonly hostPort: number;
  readonly p2pPort: number;
  readonly apiPort: number;
  readonly forwarded: boolean;
}

/** The port an engine listens on inside its network namespace. */
export function engineHttpPort(pool: PoolSpec, hostPort: number): number {
  return pool.vpn ? hostPort : (pool.template.containerPort ?? hostPort);
}

/** Expands `{{placeholder}}` in a string with this engine's values. */
export function expand(text: string, values: Readonly<Record<string, string | number>>): string {
  return text.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (match, key: string) =>
    key in values ? String(values[key]) : match,
  );
}

/**
 * The create body of the engine a create action asks for. `defaultHostIp` is the address its port is
 * published on when the template names none (undefined: every address).
 */
export function renderEngine(
  pool: PoolSpec,
  action: EngineSlot,
  defaultHostIp?: string,
): CreateContainerBody {
  const hostIp = pool.template.hostIp ?? defaultHostIp;
  const { template } = pool;
  const httpPort = engineHttpPort(pool, action.hostPort);
  const values = {
    httpPort,
    hostPort: action.hostPort,
    p2pPort: action.p2pPort,
    apiPort: action.apiPort,
    name: action.name,
    index: action.index,
  };
  const vpn = pool.vpn?.gluetun.container;
  const labels: Record<string, string> = {
    [LABELS.pool]: pool.name,
    [LABELS.hostPort]: String(action.hostPort),
    [LABELS.specHash]: pool.templateHash,
    [LABELS.p2pPort]: String(action.p2pPort),
  };
  if (action.forwarded) labels[LABELS.forwarded] = 'true';
  if (vpn) labels[LABELS.vpn] = vpn;
  const portKey = `${httpPort}/tcp`;
  return {
    name: action.name,
    Image: template.image,
    ...(template.args.length > 0 ? { Cmd: template.args.map((arg) => expand(arg, values)) } : {}),
    Env: Object.entries(template.env).map(([key, value]) => `${key}=${expand(value, values)}`),
    Labels: labels,
    // Why: in a `container:` network mode Docker refuses exposed and published ports; the VPN
    // container publishes them instead.
    ...(vpn ? {} : { ExposedPorts: { [portKey]: {} } }),
    HostConfig: {
      ...(vpn
        ? { NetworkMode: `container:${vpn}` }
        : {
            ...(template.network ? { NetworkMode: template.network } : {}),
            PortBindings: {
              [portKey]: [
                {
                  ...(hostIp !== undefined ? { HostIp: hostIp } : {}),
                  HostPort: String(action.hostPort),
                },
              ],
            },
          }),
      ...(template.memoryBytes !== undefined ? { Memory: template.memoryBytes } : {}),
      // Why: the controller, not dockerd, decides when an engine comes back (and with which port).
      RestartPolicy: { Name: 'no' },
    },
  };
}
