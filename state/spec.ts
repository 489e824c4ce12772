import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  visit,
} from 'yaml';
import { z } from 'zod';
import { stableHash } from './labels.js';

// The desired-state file (contract §1): a strict schema, `${VAR}` substitution, cross-field rules, and
// errors that name the YAML path and line and say what would be valid. Pure: no I/O, never throws.

/** Placeholders an engine's args and env may use; each is expanded per engine. */
export const PLACEHOLDERS = ['httpPort', 'hostPort', 'p2pPort', 'apiPort', 'name', 'index'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** Ports a Gluetun container binds itself in the namespace engines share (control, health, proxies). */
const GLUETUN_OWN_PORTS = [8000, 8388, 8888, 9999];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PLACEHOLDER_RE = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
const MEMORY_RE = /^([0-9]+(?:\.[0-9]+)?)\s*([kmg]?)i?b?$/i;

const port = z.int().min(1).max(65535);
const seconds = (what: string, fallback: number) =>
  z.number().positive().default(fallback).describe(`${what}, in seconds`);
const count = (what: string, min: number, fallback: number) =>
  z.int().min(min).default(fallback).describe(what);

const HealthSpec = z
  .strictObject({
    path: z
      .string()
      .startsWith('/')
      .default('/webui/api/service?method=get_version')
      .describe('HTTP path probed on the engine; 200 means healthy'),
    intervalSeconds: seconds('Time between two probes of a ready engine', 5),
    timeoutSeconds: seconds('Time a probe may take', 2),
    failureThreshold: count('Consecutive failed probes before an engine is unhealthy', 1, 3),
    startupTimeoutSeconds: seconds(
      'An engine not ready by then is removed and counted as a provisioning failure',
      60,
    ),
  })
  .describe('How engines are probed');

const envValue = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => String(v))
  .describe('A string; numbers and booleans are turned into strings');

const TemplateSpec = z
  .strictObject({
    image: z.string().min(1).describe('The engine image, e.g. acestream/engine:latest'),
    args: z
      .array(z.string())
      .default([])
      .describe('Command arguments; placeholders such as {{httpPort}} are expanded per engine'),
    env: z.record(z.string(), envValue).default({}).describe('Environment variables; placeholders allowed'),
    containerPort: port
      .optional()
      .describe('No-VPN pools only: a fixed port inside the container (default: the host port)'),
    network: z.string().min(1).optional().describe('No-VPN pools only: the Docker network engines join'),
    memoryLimit: z
      .string()
      .regex(MEMORY_RE, { error: 'expected a size such as 512m, 1g or 800000k' })
      .optional()
      .describe('Memory limit per engine, e.g. 512m'),
    health: HealthSpec.prefault({}),
  })
  .describe('What every engine container is made from');

const ReplicasSpec = z
  .strictObject({
    minFree: count('Engines with no open stream kept ready at all times', 1, 1),
    min: count('Floor on the total number of engines', 0, 0),
    max: count('Cap on the total number of engines', 1, 10),
    scaleDownDelaySeconds: z
      .number()
      .min(0)
      .default(30)
      .describe('An engine must have been free this long before it may be removed'),
  })
  .describe('How many engines to run');

const PortsSpec = z
  .strictObject({
    hostRange: z
      .string()
      .regex(/^\s*[0-9]+\s*-\s*[0-9]+\s*$/, { error: 'expected a range such as 19000-19999' })
      .default('19000-19999')
      .describe('Host ports engines are published on, as FIRST-LAST'),
  })
  .prefault({});

const GluetunSpec = z.strictObject({
  container: z.string().min(1).describe('The Gluetun container whose network namespace engines join'),
  controlUrl: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://gluetun:8000' })
    .optional()
    .describe("Gluetun's control server (default http://<container>:8000)"),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows users the literal ${VAR} syntax.
  apiKey: z.string().min(1).optional().describe('Sent as X-API-Key; use ${VAR} to keep it out of the file'),
  healthIntervalSeconds: seconds('Time between two VPN probes', 5),
  failureThreshold: count('Consecutive failed VPN probes before emergency', 1, 3),
  recoverySeconds: z
    .number()
    .min(0)
    .default(120)
    .describe('After recovery: stabilisation window with no port-change decisions'),
  restartEnginesOnReconnect: z
    .boolean()
    .default(true)
    .describe('Restart engines (free ones first) after the VPN recovers'),
  forwardedPort: z
    .boolean()
    .default(false)
    .describe("Exactly one engine gets the VPN's forwarded port as {{p2pPort}}"),
});

const VpnSpec = z
  .strictObject({ gluetun: GluetunSpec })
  .describe("Run engines inside a VPN container's network");

const CircuitBreakerSpec = z
  .strictObject({
    failureThreshold: count('Consecutive provisioning failures that open the breaker', 1, 5),
    openSeconds: seconds('Time the breaker stays open before one trial create', 300),
  })
  .prefault({});

const PlacementSpec = z
  .strictObject({
    constraints: z
      .array(
        z.string().regex(/^\s*[A-Za-z0-9_.-]+\s*(==|!=)\s*\S.*$/, {
          error: 'expected a Swarm constraint such as node.role==worker or node.labels.exit!=nl',
        }),
      )
      .default([])
      .describe(
        'Swarm constraints every engine node must meet (node.id, node.hostname, node.role, node.labels.*)',
      ),
    maxPerNode: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('At most this many engines of the pool on one node (no cap when absent)'),
  })
  .describe('Where a Swarm pool places engines: spread over the nodes that meet the constraints');

const PoolDocument = z.strictObject({
  apiVersion: z.literal('enginepool/v1'),
  kind: z.literal('EnginePool'),
  metadata: z.strictObject({
    name: z
      .string()
      .max(50)
      .regex(DNS_LABEL, {
        error:
          'expected a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit',
      })
      .describe('The pool name; engines are named <name>-1, <name>-2, ...'),
  }),
  spec: z.strictObject({
    template: TemplateSpec,
    replicas: ReplicasSpec.prefault({}),
    ports: PortsSpec,
    vpn: VpnSpec.optional(),
    circuitBreaker: CircuitBreakerSpec,
    runtime: z
      .enum(['docker', 'swarm'])
      .default('docker')
      .describe('docker: containers on one Docker engine; swarm: one-replica services on a Docker Swarm'),
    placement: PlacementSpec.optional(),
  }),
});

/** The schema of one `EnginePool` document, as written in the file (input side, before defaults). */
export const EnginePoolSchema = PoolDocument;

type PoolDocument = z.output<typeof PoolDocument>;

/** A pool's Gluetun settings, with the control URL defaulted from the container name. */
export type GluetunSettings = z.output<typeof GluetunSpec> & { readonly controlUrl: string };

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
  readonly placement: { readonly constraints: readonly string[]; readonly maxPerNode?: number };
  /** Hash of what an engine is made from (template and VPN), never of replica counts: the spec-hash label. */
  readonly templateHash: string;
  /** Hash of the whole document: a change bumps the pool's generation. */
  readonly documentHash: string;
}

/** The whole desired state: every pool of the file. */
export interface DesiredSpec {
  readonly pools: readonly PoolSpec[];
}

/** One problem in the file, located at a YAML path and line. */
export interface SpecIssue {
  readonly document: number;
  /** Dotted path such as `spec.replicas.max` or `spec.template.args[1]`; empty for the document itself. */
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

/** The outcome of parsing a file: the spec, or every issue found. It never throws. */
export type SpecResult =
  | { readonly ok: true; readonly spec: DesiredSpec }
  | { readonly ok: false; readonly issues: readonly SpecIssue[] };

/** The options of {@link parseSpec}. */
export interface ParseOptions {
  /** Variables `${VAR}` is replaced from (the controller's environment). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Parses the text of a desired-state file. Never throws; every error is a {@link SpecIssue}. */
export function parseSpec(text: string, options: ParseOptions = {}): SpecResult {
  const env = options.env ?? {};
  const lineCounter = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, {
      lineCounter,
      prettyErrors: false,
      uniqueKeys: true,
    }) as Document.Parsed[];
  } catch (error) {
    return { ok: false, issues: [{ document: 1, path: '', message: `cannot parse YAML: ${String(error)}` }] };
  }
  const issues: SpecIssue[] = [];
  const pools: PoolSpec[] = [];
  const at = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const nonEmpty = docs.filter((doc) => doc.contents !== null || doc.errors.length > 0);
  if (nonEmpty.length === 0) {
    return {
      ok: false,
      issues: [
        {
          document: 1,
          path: '',
          line: 1,
          column: 1,
          message:
            'the file has no EnginePool document (an empty file is refused, so a half-saved edit can never remove every pool)',
        },
      ],
    };
  }

  docs.forEach((doc, i) => {
    const document = i + 1;
    if (doc.contents === null && doc.errors.length === 0) return;
    for (const error of doc.errors) {
      issues.push({ document, path: '', ...at(error.pos[0]), message: yamlErrorMessage(error.message) });
    }
    if (doc.errors.length > 0) return;

    const substitutionIssues = substituteEnv(doc, env);
    for (const { path, message } of substitutionIssues) {
      issues.push({ document, path: formatPath(path), ...at(nodeAt(doc, path)?.range?.[0]), message });
    }
    if (substitutionIssues.length > 0) return;

    let input: unknown;
    try {
      input = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // Why: yaml resolves aliases only here (an alias without its anchor, too many aliases), outside
      // the parser's own error list; a typo in a watched file must be a problem, never a crash.
      issues.push({
        document,
        path: '',
        ...at(aliasOffset(doc)),
        message: yamlErrorMessage((error as Error).message),
      });
      return;
    }
    const result = PoolDocument.safeParse(input);
    if (!result.success) {
      for (const issue of result.error.issues) {
        issues.push(locateZodIssue(doc, document, issue, input, at));
      }
      return;
    }
    const pool = toPoolSpec(result.data, document);
    const crossIssues = crossFieldIssues(pool);
    for (const { path, message } of crossIssues) {
      const node = nodeAt(doc, path) ?? nodeAt(doc, path.slice(0, -1));
      issues.push({ document, path: formatPath(path), ...at(node?.range?.[0]), message });
    }
    if (crossIssues.length === 0) pools.push(pool);
  });

  if (issues.length === 0) {
    issues.push(...acrossPoolIssues(docs, pools, at));
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, spec: { pools } };
}

/** Formats issues the way `validate` prints them: `file:line:column: path: message`, one per line. */
export function formatIssues(file: string, issues: readonly SpecIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
      const path = issue.path ? `${issue.path}: ` : '';
      return `${where}: ${path}${issue.message}`;
    })
    .join('\n');
}

/** Parses `FIRST-LAST` (already checked by the schema) into a range. */
function parseRange(text: string): PortRange {
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

function toPoolSpec(doc: PoolDocument, document: number): PoolSpec {
  const { template, vpn } = doc.spec;
  const normalizedVpn = vpn && {
    gluetun: { ...vpn.gluetun, controlUrl: vpn.gluetun.controlUrl ?? `http://${vpn.gluetun.container}:8000` },
  };
  const memoryBytes = template.memoryLimit === undefined ? undefined : parseMemory(template.memoryLimit);
  const placement = {
    constraints: (doc.spec.placement?.constraints ?? []).map((c) => c.replace(/\s+/g, '')),
    ...(doc.spec.placement?.maxPerNode !== undefined ? { maxPerNode: doc.spec.placement.maxPerNode } : {}),
  };
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

type RawIssue = { path: (string | number)[]; message: string };

function crossFieldIssues(pool: PoolSpec): RawIssue[] {
  const issues: RawIssue[] = [];
  const { minFree, min, max } = pool.replicas;
  const { start, end } = pool.hostRange;
  const size = end - start + 1;
  if (min > max) {
    issues.push({ path: ['spec', 'replicas', 'min'], message: `min (${min}) cannot be above max (${max})` });
  }
  if (minFree > max) {
    issues.push({
      path: ['spec', 'replicas', 'minFree'],
      message: `minFree (${minFree}) cannot be above max (${max}): at most ${max} engines can ever be free`,
    });
  }
  if (start > end || start < 1 || end > 65535) {
    issues.push({
      path: ['spec', 'ports', 'hostRange'],
      message: `expected an ordered range of ports between 1 and 65535, such as 19000-19999 (got ${start}-${end})`,
    });
  } else if (size < max) {
    issues.push({
      path: ['spec', 'ports', 'hostRange'],
      message: `the range ${start}-${end} holds ${size} ports but max is ${max}: widen the range to at least ${max} ports or lower max`,
    });
  }
  const template = pool.template;
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
  const used = usedPlaceholders(template);
  for (const placeholder of ['p2pPort', 'apiPort'] as const) {
    if (used.has(placeholder) && start <= end && derivedPort(pool.hostRange, end, placeholder) > 65535) {
      issues.push({
        path: ['spec', 'ports', 'hostRange'],
        message: `{{${placeholder}}} takes ports ${derivedPort(pool.hostRange, start, placeholder)}-${derivedPort(pool.hostRange, end, placeholder)}, above 65535: move the range lower`,
      });
    }
  }
  if (pool.runtime === 'swarm' && pool.vpn) {
    issues.push({
      path: ['spec', 'vpn'],
      message:
        "a Swarm pool cannot use a VPN: Swarm services cannot share a container's network namespace; run one docker-runtime pool per VPN host instead (docs/scaling.md)",
    });
  }
  if (pool.runtime !== 'swarm' && (pool.placement.constraints.length > 0 || pool.placement.maxPerNode)) {
    issues.push({
      path: ['spec', 'placement'],
      message: 'placement is for Swarm pools: add runtime: swarm, or remove placement',
    });
  }
  if (pool.vpn) {
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
    // Why: only a URL that names the container itself shows the port Gluetun binds inside the
    // namespace; a URL through a published port (127.0.0.1:18000) shows a host-side port.
    const control = new URL(pool.vpn.gluetun.controlUrl);
    const inside = control.hostname === pool.vpn.gluetun.container ? [Number(control.port || 80)] : [];
    const reserved = [...new Set([...GLUETUN_OWN_PORTS, ...inside])];
    const blocks: [string, number, number][] = [['hostRange', start, end]];
    for (const placeholder of ['p2pPort', 'apiPort'] as const) {
      if (used.has(placeholder)) {
        blocks.push([
          `{{${placeholder}}}`,
          derivedPort(pool.hostRange, start, placeholder),
          derivedPort(pool.hostRange, end, placeholder),
        ]);
      }
    }
    for (const [what, from, to] of blocks) {
      const clash = reserved.filter((p) => p >= from && p <= to);
      if (clash.length > 0) {
        issues.push({
          path: ['spec', 'ports', 'hostRange'],
          message: `${what} (${from}-${to}) includes port ${clash.join(', ')}, which Gluetun uses in the namespace engines share: choose a range without it`,
        });
      }
    }
  }
  return issues;
}

function acrossPoolIssues(
  docs: Document.Parsed[],
  pools: readonly PoolSpec[],
  at: (offset: number | undefined) => { line?: number; column?: number },
): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const byName = new Map<string, PoolSpec>();
  const byVpn = new Map<string, PoolSpec>();
  for (const pool of pools) {
    const doc = docs[pool.document - 1]!;
    const sameName = byName.get(pool.name);
    if (sameName) {
      const path = ['metadata', 'name'];
      issues.push({
        document: pool.document,
        path: formatPath(path),
        ...at(nodeAt(doc, path)?.range?.[0]),
        message: `pool "${pool.name}" is already defined in document ${sameName.document}; pool names must be unique`,
      });
    }
    byName.set(pool.name, pool);
    const vpn = pool.vpn?.gluetun.container;
    if (vpn !== undefined) {
      const sameVpn = byVpn.get(vpn);
      if (sameVpn) {
        const path = ['spec', 'vpn', 'gluetun', 'container'];
        issues.push({
          document: pool.document,
          path: formatPath(path),
          ...at(nodeAt(doc, path)?.range?.[0]),
          message: `VPN container "${vpn}" already serves pool "${sameVpn.name}"; give each pool its own VPN container`,
        });
      }
      byVpn.set(vpn, pool);
    }
  }
  return issues;
}

/** Replaces `${VAR}` and `${VAR:-default}` in every string value (not keys); `$${` is a literal `${`. */
function substituteEnv(doc: Document.Parsed, env: Readonly<Record<string, string | undefined>>): RawIssue[] {
  const issues: RawIssue[] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      node.value = node.value.replace(
        /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
        (match, name: string | undefined, fallback: string | undefined) => {
          if (match === '$${') return '${';
          const value = env[name!];
          if (value !== undefined && value !== '') return value;
          if (fallback !== undefined) return fallback;
          issues.push({
            path: yamlPath(path, node),
            message: `environment variable ${name} is not set; set it for the controller, or write \${${name}:-default}`,
          });
          return match;
        },
      );
    },
  });
  return issues;
}

/** The key path of a node from the ancestors `visit` passes. */
function yamlPath(ancestors: readonly unknown[], node: Node): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isSeq(parent)) path.push(parent.items.indexOf(child as never));
    else if (isMap(parent)) {
      const pair = child as { key?: unknown };
      if (isScalar(pair.key)) path.push(String(pair.key.value));
    }
  }
  return path;
}

function nodeAt(doc: Document.Parsed, path: readonly (string | number)[]): Node | undefined {
  if (path.length === 0) return doc.contents ?? undefined;
  try {
    const node = doc.getIn(path, true);
    return node && typeof node === 'object' && 'range' in node ? (node as Node) : undefined;
  } catch {
    return undefined;
  }
}

/** The node of a key itself (for an unknown key, the line of the key is the useful one). */
function keyNodeAt(doc: Document.Parsed, path: readonly (string | number)[], key: string): Node | undefined {
  const parent = nodeAt(doc, path);
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
  return pair && isScalar(pair.key) ? pair.key : undefined;
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else {
      const key = String(part);
      text += /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (text ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return text;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function locateZodIssue(
  doc: Document.Parsed,
  document: number,
  issue: z.core.$ZodIssue,
  input: unknown,
  at: (offset: number | undefined) => { line?: number; column?: number },
): SpecIssue {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const valid = knownKeys(path);
    const key = issue.keys[0]!;
    const suggestion = closest(key, valid);
    const more =
      issue.keys.length > 1
        ? ` (and ${issue.keys
            .slice(1)
            .map((k) => `"${k}"`)
            .join(', ')})`
        : '';
    return {
      document,
      path: formatPath([...path, key]),
      ...at(keyNodeAt(doc, path, key)?.range?.[0] ?? nodeAt(doc, path)?.range?.[0]),
      message:
        `unknown key "${key}"${more}` +
        (suggestion ? ` (did you mean "${suggestion}"?)` : '') +
        (valid.length > 0 ? `; valid keys here: ${valid.join(', ')}` : ''),
    };
  }
  const value = valueAt(input, path);
  const node = nodeAt(doc, path) ?? (value === undefined ? nodeAt(doc, path.slice(0, -1)) : undefined);
  return { document, path: formatPath(path), ...at(node?.range?.[0]), message: zodMessage(issue, value) };
}

function zodMessage(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (value === undefined) return `is required (expected ${article(issue.expected)})`;
      return `expected ${article(issue.expected)}, got ${describeValue(value)}`;
    }
    case 'too_small':
      if (issue.origin === 'string') return `must not be empty`;
      if (issue.origin === 'array') return `expected at least ${issue.minimum} items`;
      return `expected a number ${issue.inclusive === false ? '>' : '>='} ${issue.minimum}, got ${describeValue(value)}`;
    case 'too_big':
      if (issue.origin === 'string')
        return `expected at most ${issue.maximum} characters, got ${describeValue(value)}`;
      return `expected a number ${issue.inclusive === false ? '<' : '<='} ${issue.maximum}, got ${describeValue(value)}`;
    case 'invalid_value':
      if (value === undefined)
        return `is required (expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')})`;
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${describeValue(value)}`;
    case 'invalid_union':
      return `expected a string, number or boolean, got ${describeValue(value)}`;
    case 'invalid_format':
      return `${issue.message}, got ${describeValue(value)}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  const noun =
    expected === 'int' ? 'integer' : expected === 'record' || expected === 'object' ? 'mapping' : expected;
  if (noun === 'array') return 'a list';
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** Where to point for an alias error: the first alias without its anchor, else the first alias. */
function aliasOffset(doc: Document.Parsed): number | undefined {
  let first: number | undefined;
  let unresolved: number | undefined;
  visit(doc, {
    Alias(_, node) {
      first ??= node.range?.[0];
      if (unresolved === undefined && node.resolve(doc) === undefined) unresolved = node.range?.[0];
    },
  });
  return unresolved ?? first;
}

function yamlErrorMessage(message: string): string {
  return `invalid YAML: ${message.split('\n')[0]}`;
}

/** The keys the schema allows at a path, for "valid keys here" and "did you mean". */
function knownKeys(path: readonly (string | number)[]): string[] {
  let schema: z.ZodType | undefined = PoolDocument;
  for (const part of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(part)];
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
    else return [];
  }
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema;
  for (let i = 0; i < 10 && current; i++) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else break;
  }
  return current;
}

/** The valid key closest to a typo (case-insensitive equal, or within two edits). */
function closest(key: string, valid: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const candidate of valid) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
