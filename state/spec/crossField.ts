import type { Document } from 'yaml';
import type { z } from 'zod';
import type { RawIssue, SpecIssue } from './issues.js';
import { formatPath, type Locator, offsetAt } from './locate.js';
import {
  derivedPort,
  gluetunSettings,
  type PoolSpec,
  type PortRange,
  parseRange,
  placementOf,
  usedPlaceholders,
} from './poolSpec.js';
import {
  ESCAPING_NETWORK,
  PLACEHOLDER_RE,
  PLACEHOLDERS,
  PlacementSpec,
  PortsSpec,
  ReplicasSpec,
  RuntimeSpec,
  TemplateSpec,
  VpnSpec,
} from './schema.js';

// Rules that span fields (min <= max, the range holds max engines, VPN pools share a namespace) and
// pools (unique names, one VPN container per pool). Each rule runs on the sections that passed the
// schema, so one run reports a reversed range next to an unknown key elsewhere.

/** Ports a Gluetun container binds itself in the namespace engines share (control, health, proxies). */
const GLUETUN_OWN_PORTS = [8000, 8388, 8888, 9999];

/** The sections of one document that passed the schema; a missing key means that section did not. */
export interface PoolParts {
  readonly replicas?: z.output<typeof ReplicasSpec>;
  readonly hostRange?: PortRange;
  readonly template?: z.output<typeof TemplateSpec>;
  /** `null`: the pool has no VPN. */
  readonly vpn?: PoolSpec['vpn'] | null;
  readonly runtime?: PoolSpec['runtime'];
  readonly placement?: PoolSpec['placement'];
}

/** Checks each section of a document on its own, so rules can run whatever else is wrong. */
export function poolParts(input: unknown): PoolParts {
  const spec = (input as { spec?: Record<string, unknown> } | null)?.spec;
  if (spec === null || typeof spec !== 'object') return {};
  const replicas = ReplicasSpec.prefault({}).safeParse(spec.replicas);
  const ports = PortsSpec.safeParse(spec.ports);
  const template = TemplateSpec.safeParse(spec.template);
  const vpn = VpnSpec.optional().safeParse(spec.vpn);
  const runtime = RuntimeSpec.safeParse(spec.runtime);
  const placement = PlacementSpec.optional().safeParse(spec.placement);
  return {
    ...(runtime.success ? { runtime: runtime.data } : {}),
    ...(placement.success ? { placement: placementOf(placement.data) } : {}),
    ...(replicas.success ? { replicas: replicas.data } : {}),
    ...(ports.success ? { hostRange: parseRange(ports.data.hostRange) } : {}),
    ...(template.success ? { template: template.data } : {}),
    ...(vpn.success ? { vpn: gluetunSettings(vpn.data) ?? null } : {}),
  };
}

/** The cross-field problems of one pool, from whichever sections passed the schema. */
export function crossFieldIssues(parts: PoolParts): RawIssue[] {
  const issues: RawIssue[] = [];
  const { replicas, hostRange, template, vpn, runtime, placement } = parts;
  if (runtime === 'swarm' && vpn) {
    issues.push({
      path: ['spec', 'vpn'],
      message:
        "a Swarm pool cannot use a VPN: Swarm services cannot share a container's network namespace; run one docker-runtime pool per VPN host instead (docs/scaling.md)",
    });
  }
  if (runtime === 'docker' && placement && (placement.constraints.length > 0 || placement.maxPerNode)) {
    issues.push({
      path: ['spec', 'placement'],
      message: 'placement is for Swarm pools: add runtime: swarm, or remove placement',
    });
  }
  if (replicas) {
    const { minFree, min, max } = replicas;
    if (min > max) {
      issues.push({
        path: ['spec', 'replicas', 'min'],
        message: `min (${min}) cannot be above max (${max})`,
      });
    }
    if (minFree > max) {
      issues.push({
        path: ['spec', 'replicas', 'minFree'],
        message: `minFree (${minFree}) cannot be above max (${max}): at most ${max} engines can ever be free`,
      });
    }
  }
  const ordered =
    hostRange && hostRange.start <= hostRange.end && hostRange.start >= 1 && hostRange.end <= 65535;
  if (hostRange && !ordered) {
    issues.push({
      path: ['spec', 'ports', 'hostRange'],
      message: `expected an ordered range of ports between 1 and 65535, such as 19000-19999 (got ${hostRange.start}-${hostRange.end})`,
    });
  } else if (hostRange && replicas) {
    const size = hostRange.end - hostRange.start + 1;
    if (size < replicas.max) {
      issues.push({
        path: ['spec', 'ports', 'hostRange'],
        message: `the range ${hostRange.start}-${hostRange.end} holds ${size} ports but max is ${replicas.max}: widen the range to at least ${replicas.max} ports or lower max`,
      });
    }
  }
  if (!template) return issues;
  issues.push(...placeholderIssues(template));
  const used = usedPlaceholders(template);
  if (hostRange && ordered) {
    for (const placeholder of ['p2pPort', 'apiPort'] as const) {
      if (used.has(placeholder) && derivedPort(hostRange, hostRange.end, placeholder) > 65535) {
        issues.push({
          path: ['spec', 'ports', 'hostRange'],
          message: `{{${placeholder}}} takes ports ${derivedPort(hostRange, hostRange.start, placeholder)}-${derivedPort(hostRange, hostRange.end, placeholder)}, above 65535: move the range lower`,
        });
      }
    }
  }
  if (
    template.network !== undefined &&
    ESCAPING_NETWORK.test(template.network) &&
    !template.allowEscapingNetwork
  ) {
    issues.push({
      path: ['spec', 'template', 'network'],
      message: `network "${template.network}" puts engines outside the pool's own network (the host's, or another container's): use a Docker network, or set allowEscapingNetwork: true if that is what you want`,
    });
  }
  if (!vpn) return issues;
  if (template.hostIp !== undefined) {
    issues.push({
      path: ['spec', 'template', 'hostIp'],
      message: 'hostIp is for pools without a VPN: the VPN container publishes the ports engines listen on',
    });
  }
  if (template.containerPort !== undefined) {
    issues.push({
      path: ['spec', 'template', 'containerPort'],
      message:
        "containerPort is for pools without a VPN: engines share the VPN's network, so each listens on its own host port ({{httpPort}})",
    });
  }
  if (template.network !== undefined) {
    issues.push({
      path: ['spec', 'template', 'network'],
      message: "network is for pools without a VPN: engines join the VPN container's network",
    });
  }
  if (hostRange) issues.push(...gluetunPortIssues(vpn.gluetun, hostRange, used));
  return issues;
}

function placeholderIssues(template: z.output<typeof TemplateSpec>): RawIssue[] {
  const issues: RawIssue[] = [];
  const fields: [(string | number)[], string][] = [
    ...template.args.map((arg, i): [(string | number)[], string] => [['spec', 'template', 'args', i], arg]),
    ...Object.entries(template.env).map(([key, v]): [(string | number)[], string] => [
      ['spec', 'template', 'env', key],
      v,
    ]),
  ];
  for (const [path, text] of fields) {
    for (const match of text.matchAll(PLACEHOLDER_RE)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(match[1]!)) {
        issues.push({
          path,
          message: `unknown placeholder {{${match[1]}}}; valid placeholders are ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
        });
      }
    }
  }
  return issues;
}

function gluetunPortIssues(
  gluetun: { container: string; controlUrl: string },
  hostRange: PortRange,
  used: ReadonlySet<string>,
): RawIssue[] {
  // Why: only a URL that names the container itself shows the port Gluetun binds inside the
  // namespace; a URL through a published port (127.0.0.1:18000) shows a host-side port.
  const control = new URL(gluetun.controlUrl);
  const inside = control.hostname === gluetun.container ? [Number(control.port || 80)] : [];
  const reserved = [...new Set([...GLUETUN_OWN_PORTS, ...inside])];
  const blocks: [string, number, number][] = [['hostRange', hostRange.start, hostRange.end]];
  for (const placeholder of ['p2pPort', 'apiPort'] as const) {
    if (used.has(placeholder)) {
      blocks.push([
        `{{${placeholder}}}`,
        derivedPort(hostRange, hostRange.start, placeholder),
        derivedPort(hostRange, hostRange.end, placeholder),
      ]);
    }
  }
  const issues: RawIssue[] = [];
  for (const [what, from, to] of blocks) {
    const clash = reserved.filter((p) => p >= from && p <= to);
    if (clash.length > 0) {
      issues.push({
        path: ['spec', 'ports', 'hostRange'],
        message: `${what} (${from}-${to}) includes port ${clash.join(', ')}, which Gluetun uses in the namespace engines share: choose a range without it`,
      });
    }
  }
  return issues;
}

/** Problems between the valid pools of a file: duplicate names, a VPN container serving two pools. */
export function acrossPoolIssues(
  docs: readonly Document.Parsed[],
  pools: readonly PoolSpec[],
  at: Locator,
): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const byName = new Map<string, PoolSpec>();
  const byVpn = new Map<string, PoolSpec>();
  const issue = (pool: PoolSpec, path: string[], message: string): SpecIssue => ({
    document: pool.document,
    path: formatPath(path),
    ...at(offsetAt(docs[pool.document - 1]!, path)),
    message,
  });
  for (const pool of pools) {
    const sameName = byName.get(pool.name);
    if (sameName) {
      issues.push(
        issue(
          pool,
          ['metadata', 'name'],
          `pool "${pool.name}" is already defined in document ${sameName.document}; pool names must be unique`,
        ),
      );
    }
    byName.set(pool.name, pool);
    const vpn = pool.vpn?.gluetun.container;
    if (vpn !== undefined) {
      const sameVpn = byVpn.get(vpn);
      if (sameVpn) {
        issues.push(
          issue(
            pool,
            ['spec', 'vpn', 'gluetun', 'container'],
            `VPN container "${vpn}" already serves pool "${sameVpn.name}"; give each pool its own VPN container`,
          ),
        );
      }
      byVpn.set(vpn, pool);
    }
  }
  return issues;
}
