import { isIP } from 'node:net';
import { z } from 'zod';

// The zod schema of one `EnginePool` document (contract §1): strict objects, defaults, and the
// descriptions `enginepool schema` turns into editor hints. Cross-field rules live in crossField.ts.

/** Placeholders an engine's args and env may use; each is expanded per engine. */
export const PLACEHOLDERS = ['httpPort', 'hostPort', 'p2pPort', 'apiPort', 'name', 'index'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** Matches one `{{placeholder}}`; group 1 is its name. */
export const PLACEHOLDER_RE = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
/** A memory size such as `512m`; group 1 is the number, group 2 the unit. */
export const MEMORY_RE = /^([0-9]+(?:\.[0-9]+)?)\s*([kmg]?)i?b?$/i;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The largest duration any field takes: a day, far below the 2^31 ms where Node's timers fire at once. */
export const MAX_SECONDS = 86_400;
/** The largest count (engines, thresholds) any field takes. */
export const MAX_COUNT = 1_000;

const port = z.int().min(1).max(65535);
// Why: Node turns a timeout above 2^31 ms (24.8 days) into 1 ms, so an unbounded duration is a hot loop.
const seconds = (what: string, fallback: number, min: 'positive' | 'zero' = 'positive') =>
  (min === 'zero' ? z.number().min(0) : z.number().positive())
    .max(MAX_SECONDS)
    .default(fallback)
    .describe(`${what}, in seconds`);
const count = (what: string, min: number, fallback: number) =>
  z.int().min(min).max(MAX_COUNT).default(fallback).describe(what);

/** Network modes that leave the pool's own network: the host's stack, or another container's. */
export const ESCAPING_NETWORK = /^(host|container:.*)$/i;
/** A Docker container name, as dockerd accepts it. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

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

export const TemplateSpec = z
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
    network: z
      .string()
      .min(1)
      .optional()
      .describe(
        'No-VPN pools only: the Docker network engines join; "host" and "container:<name>" need allowEscapingNetwork',
      ),
    allowEscapingNetwork: z
      .boolean()
      .default(false)
      .describe("Allow network: host or container:<name>, which put engines outside the pool's own network"),
    hostIp: z
      .string()
      .refine((address) => isIP(address) !== 0, { error: 'expected an IP address such as 127.0.0.1' })
      .optional()
      .describe(
        'No-VPN pools only: the host address engine ports are published on (default: 127.0.0.1 when the controller runs on the Docker host, every address when it runs in a container or drives a remote Docker)',
      ),
    memoryLimit: z
      .string()
      .regex(MEMORY_RE, { error: 'expected a size such as 512m, 1g or 800000k' })
      .optional()
      .describe('Memory limit per engine, e.g. 512m'),
    health: HealthSpec.prefault({}),
  })
  .describe('What every engine container is made from');

export const ReplicasSpec = z
  .strictObject({
    minFree: count('Engines with no open stream kept ready at all times', 1, 1),
    min: count('Floor on the total number of engines', 0, 0),
    max: count('Cap on the total number of engines', 1, 10),
    scaleDownDelaySeconds: seconds(
      'An engine must have been free this long before it may be removed',
      30,
      'zero',
    ),
  })
  .describe('How many engines to run');

export const PortsSpec = z
  .strictObject({
    hostRange: z
      .string()
      .regex(/^\s*[0-9]+\s*-\s*[0-9]+\s*$/, { error: 'expected a range such as 19000-19999' })
      .default('19000-19999')
      .describe('Host ports engines are published on, as FIRST-LAST'),
  })
  .prefault({});

const GluetunSpec = z.strictObject({
  container: z
    .string()
    .regex(CONTAINER_NAME, { error: 'expected a container name: letters, digits, "_", "." and "-"' })
    .refine((name) => !['host', 'none', 'bridge', 'default'].includes(name.toLowerCase()), {
      error: 'expected the name of the Gluetun container, not a Docker network mode',
    })
    .describe('The Gluetun container whose network namespace engines join'),
  controlUrl: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://gluetun:8000' })
    .optional()
    .describe("Gluetun's control server (default http://<container>:8000)"),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows users the literal ${VAR} syntax.
  apiKey: z.string().min(1).optional().describe('Sent as X-API-Key; use ${VAR} to keep it out of the file'),
  healthIntervalSeconds: seconds('Time between two VPN probes', 5),
  failureThreshold: count('Consecutive failed VPN probes before emergency', 1, 3),
  recoverySeconds: seconds('After recovery: stabilisation window with no port-change decisions', 120, 'zero'),
  restartEnginesOnReconnect: z
    .boolean()
    .default(true)
    .describe('Restart engines (free ones first) after the VPN recovers'),
  forwardedPort: z
    .boolean()
    .default(false)
    .describe("Exactly one engine gets the VPN's forwarded port as {{p2pPort}}"),
});

export const VpnSpec = z
  .strictObject({ gluetun: GluetunSpec })
  .describe("Run engines inside a VPN container's network");

const CircuitBreakerSpec = z
  .strictObject({
    failureThreshold: count('Consecutive provisioning failures that open the breaker', 1, 5),
    openSeconds: seconds('Time the breaker stays open before one trial create', 300),
  })
  .prefault({});

export const PlacementSpec = z
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
      .max(MAX_COUNT)
      .optional()
      .describe('At most this many engines of the pool on one node (no cap when absent)'),
  })
  .describe('Where a Swarm pool places engines: spread over the nodes that meet the constraints');

export const RuntimeSpec = z
  .enum(['docker', 'swarm'])
  .default('docker')
  .describe('docker: containers on one Docker engine; swarm: one-replica services on a Docker Swarm');

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
    runtime: RuntimeSpec,
    placement: PlacementSpec.optional(),
  }),
});

/** The schema of one `EnginePool` document, as written in the file (input side, before defaults). */
export const EnginePoolSchema = PoolDocument;

/** One document after the schema: defaults applied, nothing derived yet. */
export type PoolDocument = z.output<typeof PoolDocument>;

/** A pool's Gluetun settings, with the control URL defaulted from the container name. */
export type GluetunSettings = z.output<typeof GluetunSpec> & { readonly controlUrl: string };

/** The keys the schema allows at a path, for "valid keys here" and "did you mean". */
export function knownKeys(path: readonly (string | number)[]): string[] {
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
