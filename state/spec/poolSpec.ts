import { stableHash } from '../labels.js';
import { type GluetunSettings, MEMORY_RE, PLACEHOLDER_RE, type PoolDocument } from './schema.js';

// The desired state as the rest of the code reads it: one PoolSpec per document, with defaults applied
// and derived values (port range, memory bytes, hashes) computed once.

/** An inclusive range of ports. */
export interface PortRange {
  readonly start: number;
  readonly end: number;
}

/** One pool of the desired state, with defaults applied and derived values computed. */
export interface PoolSpec {
  readonly name: string;
  /** 1-based index of the YAML document it came from. */
  readonly document: number;
  readonly template: PoolDocument['spec']['template'] & { readonly memoryBytes?: number };
  readonly replicas: PoolDocument['spec']['replicas'];
  readonly hostRange: PortRange;
  readonly vpn?: { readonly gluetun: GluetunSettings };
  readonly circuitBreaker: PoolDocument['spec']['circuitBreaker'];
  /** Where its engines run: containers on the Docker engine, or services on its Swarm. */
  readonly runtime: 'docker' | 'swarm';
  /** Swarm pools: constraints and the per-node cap (no constraints, no cap by default). */
  readonly placement: Placement;
  /** Hash of what an engine is made from (template and VPN), never of replica counts: the spec-hash label. */
  readonly templateHash: string;
  /** Hash of the whole document: a change bumps the pool's generation. */
  readonly documentHash: string;
}

/** Where a Swarm pool's engines may run. */
export interface Placement {
  readonly constraints: readonly string[];
  readonly maxPerNode?: number;
}

/** A pool's placement with constraints written without blanks (none, no cap, when absent). */
export function placementOf(placement: PoolDocument['spec']['placement']): Placement {
  return {
    constraints: (placement?.constraints ?? []).map((c) => c.replace(/\s+/g, '')),
    ...(placement?.maxPerNode !== undefined ? { maxPerNode: placement.maxPerNode } : {}),
  };
}

/** The whole desired state: every pool of the file. */
export interface DesiredSpec {
  readonly pools: readonly PoolSpec[];
}

/** Parses `FIRST-LAST` (already checked by the schema) into a range. */
export function parseRange(text: string): PortRange {
  const [start, end] = text.split('-').map((part) => Number(part.trim())) as [number, number];
  return { start, end };
}

/** Bytes of a size such as `512m`; binary multiples, as Docker reads them. */
function parseMemory(text: string): number {
  const match = MEMORY_RE.exec(text.trim())!;
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(match[1]) * factor);
}

/** A pool's Gluetun settings with the control URL defaulted from the container name. */
export function gluetunSettings(vpn: PoolDocument['spec']['vpn']): { gluetun: GluetunSettings } | undefined {
  return (
    vpn && {
      gluetun: {
        ...vpn.gluetun,
        controlUrl: vpn.gluetun.controlUrl ?? `http://${vpn.gluetun.container}:8000`,
      },
    }
  );
}

/** The PoolSpec of a document the schema accepted. */
export function toPoolSpec(doc: PoolDocument, document: number): PoolSpec {
  const { template, vpn } = doc.spec;
  const normalizedVpn = gluetunSettings(vpn);
  const memoryBytes = template.memoryLimit === undefined ? undefined : parseMemory(template.memoryLimit);
  const placement = placementOf(doc.spec.placement);
  return {
    name: doc.metadata.name,
    document,
    template: memoryBytes === undefined ? template : { ...template, memoryBytes },
    replicas: doc.spec.replicas,
    hostRange: parseRange(doc.spec.ports.hostRange),
    ...(normalizedVpn ? { vpn: normalizedVpn } : {}),
    circuitBreaker: doc.spec.circuitBreaker,
    runtime: doc.spec.runtime,
    placement,
    templateHash: stableHash({
      template,
      vpn: normalizedVpn ? normalizedVpn.gluetun.container : null,
      // Why: only Swarm pools hash where engines go, so Docker pools keep their hashes (no rollout on upgrade).
      ...(doc.spec.runtime === 'swarm' ? { runtime: 'swarm', placement } : {}),
    }),
    documentHash: stableHash(doc),
  };
}

/** True when some pool of the spec runs on Swarm. */
export function usesSwarm(spec: DesiredSpec | undefined): boolean {
  return (spec?.pools ?? []).some((pool) => pool.runtime === 'swarm');
}

/** The names of the VPN containers the spec's pools use (none without a spec). */
export function vpnContainers(spec: DesiredSpec | undefined): Set<string> {
  return new Set((spec?.pools ?? []).flatMap((pool) => (pool.vpn ? [pool.vpn.gluetun.container] : [])));
}

/** The ports of the blocks a placeholder draws from: `{{p2pPort}}` one range up, `{{apiPort}}` two up. */
export function derivedPort(range: PortRange, hostPort: number, placeholder: 'p2pPort' | 'apiPort'): number {
  const size = range.end - range.start + 1;
  return hostPort + size * (placeholder === 'p2pPort' ? 1 : 2);
}

/** The placeholders a template uses, in its args and env values. */
export function usedPlaceholders(template: {
  args: readonly string[];
  env: Readonly<Record<string, string>>;
}) {
  const used = new Set<string>();
  for (const text of [...template.args, ...Object.values(template.env)]) {
    for (const match of text.matchAll(PLACEHOLDER_RE)) used.add(match[1]!);
  }
  return used;
}
