import { resolve } from 'node:path';
import { type Clock, systemClock } from '../state/clock.js';
import { vpnContainers } from '../state/spec/index.js';
import { type ApiTokens, readApiTokens } from './config/apiToken.js';
import { parseCheckSeconds, parseListen, parseResyncSeconds } from './config/environment.js';
import { SpecSource } from './config/specSource.js';
import { packageVersion } from './config/version.js';
import { compatRoutes } from './http/compat/compat.js';
import { apiRoutes } from './http/routes/native.js';
import { createHttpServer } from './http/server.js';
import { StatusHub } from './http/status/hub.js';
import { readSnapshot, statusRoutes } from './http/status/routes.js';
import { Controller } from './loop/controller.js';
import { concernsPools, DockerEvents } from './loop/events.js';
import { Loop } from './loop/loop.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { detectSelf, type SelfLocation } from './runtime/addressing.js';
import { createSpecRuntime } from './runtime/swarm/poolRuntime.js';
import { enginesPerNode } from './runtime/swarm/swarmObjects.js';
import { defaultStateDirFor, StateDirLockedError, StreamRegistry } from './streams/registry.js';
import { StreamWatcher } from './streams/watcher.js';

// The composition root of `enginepool run`: config, logger, metrics, Docker, machines, loop, HTTP,
// signals. On SIGTERM it stops acting and exits; the engines keep running for the next start to adopt.

/** Options of {@link runController}. */
export interface RunOptions {
  readonly config: string;
  readonly listen: string;
  readonly stateDir?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
  /** Resolves when the controller should stop (defaults to SIGTERM/SIGINT). */
  readonly stopSignal?: Promise<string>;
}

/** Why loud: a proxy (acexy) only logs the 403s, and the engines carrying its streams look free. */
const NO_TOKEN_WARNING =
  "ENGINEPOOL_API_TOKEN is not set: the API is read-only, so a proxy's stream events (acexy's stream_started/stream_ended) are refused with 403 and engines carrying streams look free and may be scaled down; set it, and the same value as the proxy's token (acexy: ACEXY_ORCH_APIKEY)";

function signalled(): Promise<string> {
  return new Promise((resolveSignal) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolveSignal(signal));
  });
}

/** Runs the controller until stopped; resolves with the process exit code. */
export async function runController(options: RunOptions): Promise<number> {
  const { env } = options;
  const clock = options.clock ?? systemClock;
  const logger: Logger = createLogger({
    level: env.LOG_LEVEL ?? 'info',
    format: env.LOG_FORMAT === 'pretty' ? 'pretty' : 'json',
  });
  const stopSignal = options.stopSignal ?? signalled();
  let listen: { host: string; port: number };
  let checkSeconds: number;
  let resyncSeconds: number;
  let tokens: ApiTokens;
  try {
    tokens = readApiTokens(env);
    listen = parseListen(options.listen);
    checkSeconds = parseCheckSeconds(env.ENGINEPOOL_STREAM_CHECK_SECONDS);
    resyncSeconds = parseResyncSeconds(env.ENGINEPOOL_RESYNC_SECONDS);
  } catch (error) {
    logger.error((error as Error).message);
    return 2;
  }
  const metrics = new Metrics({
    build: {
      version: packageVersion(),
      ...(env.ENGINEPOOL_REVISION ? { revision: env.ENGINEPOOL_REVISION } : {}),
    },
  });
  const docker = createSpecRuntime({
    dockerHost: env.DOCKER_HOST,
    spec: () => specSource.current().spec,
    observe: metrics.dockerCall,
    onSnapshot: (snapshot) => metrics.swarmNodes(...enginesPerNode(snapshot)),
  });
  const stateDir = options.stateDir ?? defaultStateDirFor(options.config, env);
  const registry = new StreamRegistry({ stateDir, clock, logger, onWrite: metrics.stateWrite });
  try {
    registry.open();
  } catch (error) {
    logger.error({ stateDir }, (error as Error).message);
    return error instanceof StateDirLockedError ? 1 : 2;
  }
  logger.info({ stateDir, config: resolve(options.config) }, 'starting enginepool');

  let loop: Loop | undefined;
  let hub: StatusHub | undefined;
  // Why: what woke the loop (a stream, an event) may already show on the status page, before the pass.
  const wake = (reason: string) => {
    loop?.wake(reason);
    hub?.changed();
  };
  const specSource = new SpecSource({
    path: options.config,
    env,
    clock,
    logger,
    metrics,
    onChange: () => wake('file changed'),
  });
  specSource.reload('start');

  let self: SelfLocation = { inContainer: false, networks: {}, dockerHost: '127.0.0.1' };
  let selfKnown = false;
  const refreshSelf = async () => {
    try {
      self = await detectSelf(docker, env.DOCKER_HOST);
      selfKnown = true;
    } catch {
      // Docker does not answer yet; the next resync asks again.
    }
  };
  await refreshSelf();
  if (self.inContainer)
    logger.info({ networks: Object.keys(self.networks), gateway: self.gateway }, 'running in a container');

  let events: DockerEvents | undefined;
  const controller = new Controller({
    docker,
    clock,
    logger,
    metrics,
    specState: () => specSource.current(),
    registry,
    self: () => self,
    // Why: a controller on the Docker host reaches engines at 127.0.0.1, and so does anything that uses
    // the addresses its API gives; publishing on every address would only expose the engines. In a
    // container, with a remote Docker or ENGINEPOOL_ENGINE_HOST, engines are reached from elsewhere.
    defaultHostIp: () =>
      selfKnown && !self.inContainer && self.dockerHost === '127.0.0.1' && !env.ENGINEPOOL_ENGINE_HOST
        ? '127.0.0.1'
        : undefined,
    ...(env.ENGINEPOOL_ENGINE_HOST ? { engineHost: env.ENGINEPOOL_ENGINE_HOST } : {}),
    wake,
    eventStreamSince: () => events?.connectedSince(),
    onPublish: () => hub?.changed(),
  });
  hub = new StatusHub({
    clock,
    build: () => readSnapshot(controller.view, specSource.current(), clock.now()),
  });
  const watcher = new StreamWatcher({
    registry,
    clock,
    logger,
    endpoint: (containerId) => controller.view.allEngines().find((e) => e.containerId === containerId),
    wake,
    periodMs: checkSeconds * 1000,
  });
  loop = new Loop({
    clock,
    logger,
    pass: async () => {
      try {
        return await controller.tickOnce();
      } finally {
        // Why: after each pass the registry reflects every start and every engine that went away.
        watcher.sync();
      }
    },
    resyncMs: resyncSeconds * 1000,
    // Why: a resync pass no longer drops the cached observation; the observer relists on its own
    // period, and at once after every gap in the event stream (onGap below).
    onResync: () => {
      if (!selfKnown) void refreshSelf();
    },
  });
  events = new DockerEvents({
    docker,
    clock,
    logger,
    wake,
    relevant: (event) => {
      const spec = specSource.current().spec;
      return concernsPools(event, new Set(spec?.pools.map((p) => p.name)), vpnContainers(spec));
    },
    onStarted: (id) => controller.invalidate(id),
    onChanged: (event) => controller.containersChanged(event),
    onGap: () => controller.invalidate(),
  });
  const { token, readToken } = tokens;
  // Setup problems that do not stop the controller: logged at start and listed by /readyz.
  const warnings = [...tokens.warnings, ...(token ? [] : [NO_TOKEN_WARNING])];
  const deps = { controller, view: controller.view, registry, metrics, logger, clock, wake, warnings };
  const server = createHttpServer({
    routes: [
      ...apiRoutes(deps),
      ...compatRoutes(deps),
      ...statusRoutes({ view: controller.view, specState: () => specSource.current(), clock, hub }),
    ],
    ...(token ? { token } : {}),
    ...(readToken ? { readToken } : {}),
    logger,
    observe: metrics.httpRequest,
  });
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolveListen());
    });
  } catch (error) {
    logger.error(
      { listen: options.listen },
      `cannot listen on ${options.listen}: ${(error as Error).message}`,
    );
    watcher.close();
    controller.close();
    metrics.close();
    registry.close();
    return 1;
  }
  for (const warning of warnings) logger.warn(warning);
  logger.info({ listen: `${listen.host}:${listen.port}` }, 'API listening');

  const onHangup = () => specSource.reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  specSource.watch();
  events.start();
  loop.start();

  const signal = await stopSignal;
  logger.info({ signal }, 'stopping; engines keep running and will be adopted by the next start');
  process.off('SIGHUP', onHangup);
  await loop.stop();
  watcher.close();
  events.stop();
  specSource.close();
  controller.close();
  metrics.close();
  hub.close();
  server.closeAllConnections();
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  registry.close();
  return 0;
}
