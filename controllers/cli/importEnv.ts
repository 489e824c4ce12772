import { stringify } from 'yaml';

// `enginepool import-env`: acestream-orchestrator's settings (its `.env`, Python era) as an equivalent
// pools file. Pure: text in, text out. Every setting is either mapped (and named in the header) or
// listed with the reason it has no equivalent; secrets are never copied into the output.

/** Reads a `.env` file: KEY=VALUE lines, `export`, quotes and trailing comments; the last one wins. */
export function parseDotenv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(raw);
    if (!match) continue;
    let value = match[2]!.trim();
    const quoted = /^(["'])(.*?)\1/.exec(value);
    if (quoted) value = quoted[2]!;
    else value = value.replace(/\s+#.*$/, '').trim();
    env.set(match[1]!, value);
  }
  return env;
}

/** The orchestrator's engine variants (app/services/provisioner.py), as a pool template. */
function variantTemplate(env: ReadonlyMap<string, string>, vpn: boolean) {
  const variant = env.get('ENGINE_VARIANT') || 'krinkuto11-amd64';
  const p2p = vpn ? ' --port {{p2pPort}}' : '';
  switch (variant) {
    case 'jopsis-amd64':
      return {
        image: 'jopsis/acestream:x64',
        env: {
          ACESTREAM_ARGS: `--client-console --bind-all --service-remote-access --access-token acestream --service-access-token root --stats-report-peers --live-cache-type memory --live-cache-size 209715200 --vod-cache-type memory --cache-dir /acestream/.ACEStream --http-port {{httpPort}}${p2p}`,
        },
      };
    case 'jopsis-arm32':
    case 'jopsis-arm64': {
      const tag =
        variant === 'jopsis-arm32'
          ? env.get('ENGINE_ARM32_VERSION') || 'arm32-v3.2.13'
          : env.get('ENGINE_ARM64_VERSION') || 'arm64-v3.2.13';
      return {
        image: `jopsis/acestream:${tag}`,
        args: [
          'python',
          'main.py',
          '--bind-all',
          '--client-console',
          '--live-cache-type',
          'memory',
          '--live-mem-cache-size',
          '104857600',
          '--disable-sentry',
          '--log-stdout',
          '--http-port',
          '{{httpPort}}',
          ...(vpn ? ['--port', '{{p2pPort}}'] : []),
        ],
      };
    }
    default:
      return {
        image: 'ghcr.io/krinkuto11/acestream-http-proxy:latest',
        env: {
          CONF: ['--http-port={{httpPort}}', '--bind-all', ...(vpn ? ['--port={{p2pPort}}'] : [])].join('\n'),
          HTTP_PORT: '{{httpPort}}',
          BIND_ALL: 'true',
          ...(vpn ? { P2P_PORT: '{{p2pPort}}' } : {}),
        },
      };
  }
}

/** Settings with no equivalent, and why; the value is shown unless the setting is a secret. */
const UNMAPPED: Readonly<Record<string, string>> = {
  IDLE_TTL_S:
    'reserved for inactivity GC in the orchestrator; free engines beyond minFree go after scaleDownDelaySeconds',
  MONITOR_INTERVAL_S:
    'enginepool reacts to Docker events at once; its safety-net resync is ENGINEPOOL_RESYNC_SECONDS (default 10)',
  AUTOSCALE_INTERVAL_S: 'scaling happens on every pass, woken by stream events and Docker events',
  COLLECT_INTERVAL_S: 'no stats collector; open streams are checked every ENGINEPOOL_STREAM_CHECK_SECONDS',
  STATS_HISTORY_MAX: 'no stats history is kept',
  MAX_CONCURRENT_PROVISIONS: 'creates start slowly (1, 2, 4, ...) with a fixed concurrency cap',
  MIN_PROVISION_INTERVAL_S: 'creates start slowly (1, 2, 4, ...); no fixed interval',
  ACE_HTTP_RANGE: 'each engine listens on its own port ({{httpPort}}); no internal range is needed',
  ACE_HTTPS_RANGE: 'enginepool publishes one HTTP port per engine; no HTTPS port',
  ACE_MAP_HTTPS: 'enginepool publishes one HTTP port per engine; no HTTPS port',
  AUTO_DELETE:
    'free engines beyond minFree are removed after scaleDownDelaySeconds, whatever ended their stream',
  VPN_UNHEALTHY_RESTART_TIMEOUT_S:
    'enginepool never restarts the VPN container (Gluetun restarts its tunnel itself); it holds creates while the VPN is down',
  GLUETUN_PORT_CACHE_TTL_S: 'the forwarded port is read on every VPN probe (healthIntervalSeconds)',
  DB_URL: 'no database: open streams persist in the state directory (--state-dir)',
  DEBUG_MODE: 'use LOG_LEVEL=debug',
  DEBUG_LOG_DIR: 'logs go to stdout (LOG_FORMAT=json|pretty)',
  TZ: 'logs are in UTC; set TZ on the container if you want',
  HEALTH_UNHEALTHY_GRACE_PERIOD_S: 'an unhealthy engine is replaced after failureThreshold failed probes',
  HEALTH_REPLACEMENT_COOLDOWN_S: 'replacements go through the circuit breaker',
  CIRCUIT_BREAKER_REPLACEMENT_THRESHOLD: 'one circuit breaker per pool (failureThreshold)',
  CIRCUIT_BREAKER_REPLACEMENT_TIMEOUT_S: 'one circuit breaker per pool (openSeconds)',
};

/** What {@link poolsFromEnv} made: the pools file, and the notes it carries. */
export interface ImportResult {
  readonly yaml: string;
  readonly mapped: readonly string[];
  readonly unmapped: readonly string[];
}

const number = (env: ReadonlyMap<string, string>, name: string): number | undefined => {
  const value = env.get(name);
  if (value === undefined || value.trim() === '') return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
};

/** A DNS-label pool name from a VPN container's name. */
const poolName = (container: string) =>
  `acestream-${container.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.replace(/-+$/, '').slice(0, 63);

/** The pools file equivalent to acestream-orchestrator's settings. `source` names the file in the header. */
export function poolsFromEnv(env: ReadonlyMap<string, string>, source: string): ImportResult {
  const mapped: string[] = [];
  const unmapped: string[] = [];
  const used = new Set<string>();
  const take = (name: string) => {
    used.add(name);
    return env.get(name);
  };
  const map = (name: string, to: string) => {
    used.add(name);
    if (env.has(name)) mapped.push(`${name}=${env.get(name)} -> ${to}`);
  };
  /** A number setting mapped to `to`; undefined when absent (the orchestrator's default applies). */
  const mapNumber = (name: string, to: string) => {
    map(name, to);
    return number(env, name);
  };
  const note = (name: string, why: string, secret = false) => {
    used.add(name);
    if (env.has(name)) unmapped.push(`${secret ? name : `${name}=${env.get(name)}`}: ${why}`);
  };

  const vpn1 = take('GLUETUN_CONTAINER_NAME') || undefined;
  const vpn2 = take('GLUETUN_CONTAINER_NAME_2') || undefined;
  const redundant = take('VPN_MODE') === 'redundant' && vpn1 !== undefined && vpn2 !== undefined;
  const vpns = vpn1 ? (redundant ? [vpn1, vpn2!] : [vpn1]) : [];
  if (vpn1) map('VPN_MODE', redundant ? 'one pool per VPN' : 'one pool behind the VPN');
  else note('VPN_MODE', 'no GLUETUN_CONTAINER_NAME: the pool runs without a VPN');

  // The orchestrator's defaults (app/core/config.py) where the file says nothing.
  const minFree = Math.max(1, number(env, 'MIN_FREE_REPLICAS') ?? 1);
  const min = number(env, 'MIN_REPLICAS') ?? 1;
  let max = number(env, 'MAX_REPLICAS') ?? 20;
  map('MIN_FREE_REPLICAS', 'replicas.minFree');
  map('MIN_REPLICAS', 'replicas.min (total engines kept, as at its startup)');
  map('MAX_REPLICAS', 'replicas.max');
  if (vpns.length > 0) {
    max = Math.min(max, number(env, 'MAX_ACTIVE_REPLICAS') ?? 20);
    map('MAX_ACTIVE_REPLICAS', 'replicas.max (the cap behind a VPN)');
  } else note('MAX_ACTIVE_REPLICAS', 'only applies behind a VPN');
  const startup = mapNumber('STARTUP_TIMEOUT_S', 'template.health.startupTimeoutSeconds');
  const grace = mapNumber('ENGINE_GRACE_PERIOD_S', 'replicas.scaleDownDelaySeconds');
  const healthInterval = mapNumber('HEALTH_CHECK_INTERVAL_S', 'template.health.intervalSeconds');
  const healthFailures = mapNumber('HEALTH_FAILURE_THRESHOLD', 'template.health.failureThreshold');
  const breakerFailures = mapNumber('CIRCUIT_BREAKER_FAILURE_THRESHOLD', 'circuitBreaker.failureThreshold');
  const breakerOpen = mapNumber('CIRCUIT_BREAKER_RECOVERY_TIMEOUT_S', 'circuitBreaker.openSeconds');
  map('ENGINE_VARIANT', 'template.image and its arguments');
  used.add('ENGINE_ARM32_VERSION');
  used.add('ENGINE_ARM64_VERSION');
  const network = take('DOCKER_NETWORK') || undefined;
  if (vpns.length === 0) map('DOCKER_NETWORK', 'template.network');
  else
    note(
      'DOCKER_NETWORK',
      "engines share the VPN container's network; put enginepool on this network instead",
    );
  const apiPort = number(env, 'GLUETUN_API_PORT') ?? 8000;
  const vpnInterval = number(env, 'GLUETUN_HEALTH_CHECK_INTERVAL_S');
  const restartOnReconnect = take('VPN_RESTART_ENGINES_ON_RECONNECT');
  if (vpns.length > 0) {
    map('GLUETUN_CONTAINER_NAME', 'vpn.gluetun.container');
    map('GLUETUN_CONTAINER_NAME_2', 'vpn.gluetun.container of the second pool');
    map('GLUETUN_API_PORT', 'vpn.gluetun.controlUrl');
    map('GLUETUN_HEALTH_CHECK_INTERVAL_S', 'vpn.gluetun.healthIntervalSeconds');
    map('VPN_RESTART_ENGINES_ON_RECONNECT', 'vpn.gluetun.restartEnginesOnReconnect');
  } else {
    for (const name of [
      'GLUETUN_API_PORT',
      'GLUETUN_HEALTH_CHECK_INTERVAL_S',
      'VPN_RESTART_ENGINES_ON_RECONNECT',
      'GLUETUN_PORT_RANGE_1',
      'GLUETUN_PORT_RANGE_2',
    ])
      note(name, 'only applies behind a VPN (GLUETUN_CONTAINER_NAME is not set)');
  }
  const hostRange = take('PORT_RANGE_HOST') || '19000-19999';
  const vpnRanges = [take('GLUETUN_PORT_RANGE_1'), take('GLUETUN_PORT_RANGE_2')];
  if (vpns.length === 0 || !redundant) map('PORT_RANGE_HOST', 'ports.hostRange');
  else note('PORT_RANGE_HOST', 'each VPN pool uses its own GLUETUN_PORT_RANGE_n');
  if (redundant) {
    map('GLUETUN_PORT_RANGE_1', 'ports.hostRange of the first pool');
    map('GLUETUN_PORT_RANGE_2', 'ports.hostRange of the second pool');
  } else if (vpns.length > 0) {
    note('GLUETUN_PORT_RANGE_1', 'single mode uses PORT_RANGE_HOST');
    note('GLUETUN_PORT_RANGE_2', 'single mode has one VPN');
  }

  note(
    'API_KEY',
    'not written here (a secret): run the controller with ENGINEPOOL_API_TOKEN set to this value, which acexy sends as ACEXY_ORCH_APIKEY',
    true,
  );
  note(
    'CONTAINER_LABEL',
    "the orchestrator's engines carry this label, never io.enginepool.pool, so enginepool leaves them alone: stop the orchestrator, then remove them (docs/migrating.md)",
  );
  note('APP_PORT', 'the controller listens with --listen 0.0.0.0:<port> (the image: 0.0.0.0:8000)');
  for (const [name, why] of Object.entries(UNMAPPED)) note(name, why);
  for (const name of env.keys())
    if (!used.has(name))
      unmapped.push(`${name}: not an acestream-orchestrator setting enginepool knows; ignored`);

  const split = (value: number, parts: number, floor: number) => Math.max(floor, Math.ceil(value / parts));
  const pools = (vpns.length > 0 ? vpns : [undefined]).map((vpn, i) => {
    const parts = vpns.length || 1;
    const template = {
      ...variantTemplate(env, vpn !== undefined),
      ...(vpn === undefined && network ? { network } : {}),
      health: {
        path: '/webui/api/service?method=get_version',
        ...(healthInterval !== undefined ? { intervalSeconds: healthInterval } : {}),
        ...(healthFailures !== undefined ? { failureThreshold: healthFailures } : {}),
        startupTimeoutSeconds: startup ?? 25,
      },
    };
    return {
      apiVersion: 'enginepool/v1',
      kind: 'EnginePool',
      metadata: { name: vpn === undefined ? 'acestream' : poolName(vpn) },
      spec: {
        template,
        replicas: {
          minFree: split(minFree, parts, 1),
          min: split(min, parts, 0),
          max: split(max, parts, 1),
          scaleDownDelaySeconds: grace ?? 30,
        },
        ports: { hostRange: (redundant ? vpnRanges[i] : undefined) || hostRange },
        ...(vpn === undefined
          ? {}
          : {
              vpn: {
                gluetun: {
                  container: vpn,
                  controlUrl: `http://${vpn}:${apiPort}`,
                  ...(vpnInterval !== undefined ? { healthIntervalSeconds: vpnInterval } : {}),
                  restartEnginesOnReconnect: restartOnReconnect?.toLowerCase() !== 'false',
                  forwardedPort: true,
                },
              },
            }),
        ...(breakerFailures !== undefined || breakerOpen !== undefined
          ? {
              circuitBreaker: {
                ...(breakerFailures !== undefined ? { failureThreshold: breakerFailures } : {}),
                ...(breakerOpen !== undefined ? { openSeconds: breakerOpen } : {}),
              },
            }
          : {}),
      },
    };
  });

  const comment = (line: string) => `# ${line}`;
  const header = [
    `enginepool pools file made by \`enginepool import-env\` from ${source}.`,
    'Check it with `enginepool validate FILE`; docs/migrating.md explains each setting.',
    ...(redundant
      ? [
          'VPN_MODE=redundant: one pool per VPN, the replica numbers split between them (each keeps minFree >= 1).',
        ]
      : []),
    ...(vpns.length > 0
      ? [
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the pools file's own ${VAR} syntax.
          "Gluetun's control server: add apiKey: ${GLUETUN_API_KEY} under vpn.gluetun if yours requires a key.",
        ]
      : []),
    '',
    'Mapped:',
    ...mapped.map((line) => `  ${line}`),
    '',
    'Not mapped (no equivalent in enginepool):',
    ...(unmapped.length > 0 ? unmapped.map((line) => `  ${line}`) : ['  (none)']),
  ].map((line) => (line === '' ? '#' : comment(line)));
  const documents = pools.map((pool) => stringify(pool, { lineWidth: 0 }).trimEnd());
  return { yaml: `${[...header, documents.join('\n---\n')].join('\n')}\n`, mapped, unmapped };
}
