import { createHash } from 'node:crypto';

/** Label keys on managed containers (contract §4). The pool label is ownership: nothing else is touched. */
export const LABELS = {
  pool: 'io.enginepool.pool',
  hostPort: 'io.enginepool.host-port',
  specHash: 'io.enginepool.spec-hash',
  forwarded: 'io.enginepool.forwarded',
  vpn: 'io.enginepool.vpn',
  /** The P2P port the engine was given; on the forwarded engine, the VPN's forwarded port. */
  p2pPort: 'io.enginepool.p2p-port',
  /** Swarm engines, as observed (never written): the node's hostname and its address. */
  node: 'io.enginepool.node',
  nodeAddress: 'io.enginepool.node-address',
} as const;

/** The name of engine number `index` of a pool: `acestream-1`, `acestream-2`, ... */
export function engineName(pool: string, index: number): string {
  return `${pool}-${index}`;
}

/**
 * The number in an engine name of this pool, or undefined when the name does not follow the rule
 * (`<pool>-<n>`, n >= 1 without leading zeros). `acestream-extra-1` is not an engine of `acestream`.
 */
export function engineIndex(pool: string, name: string): number | undefined {
  if (!name.startsWith(`${pool}-`)) return undefined;
  const rest = name.slice(pool.length + 1);
  if (!/^[1-9][0-9]{0,8}$/.test(rest)) return undefined;
  return Number(rest);
}

/** JSON with object keys sorted at every level, so equal values always print the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const obj = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(obj)
          .sort()
          .map((k) => [k, obj[k]]),
      );
    }
    return v;
  });
}

/** A short, stable hash of a value (16 hex chars of the SHA-256 of its canonical JSON). */
export function stableHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}
