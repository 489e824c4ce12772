import { resolve } from 'node:path';
import { type Clock, systemClock } from '../state/clock.js';
import { vpnContainers } from '../state/spec.js';
import { parseCheckSeconds, parseListen, resyncSeconds } from './config/environment.js';
import { SpecSource } from './config/specSource.js';
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
  try {
    listen = parseListen(options.listen);
    checkSeconds = parseCheckSeconds(env.ENGINEPOOL_STREAM_CHECK_SECONDS);
  } catch (error) {
    logger.error((error as Error).message);
    return 2;
  }
  const metrics = new Metrics();
  const docker = createSpecRuntime({
    dockerHost: env.DOCKER_HOST,
    spec: () => specSource.current().spec,
    observe: metrics.dockerCall,
    onSnapshot: (snapshot) => metrics.swarmNodes(...enginesPerNode(snapshot)),
  });
  const stateDir = options.stateDir ?? defaultStateDirFor(options.config, env);
  const registry = new StreamRegistry({ stateDir, clock, logger });
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

  const controller = new Controller({
    docker,
    clock,
    logger,
    metrics,
    specState: () => specSource.current(),
    registry,
    self: () => self,
    ...(env.ENGINEPOOL_ENGINE_HOST ? { engineHost: env.ENGINEPOOL_ENGINE_HOST } : {}),
    wake,
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
    resyncMs: resyncSeconds(env) * 1000,
    onResync: () => {
      controller.invalidate();
      if (!selfKnown) void refreshSelf();
    },
  });
  const events = new DockerEvents({
    docker,
    clock,
    logger,
    wake,
    relevant: (event) => concernsPools(event, vpnContainers(specSource.current().spec)),
    onStarted: (id) => controller.invalidate(id),
    onGap: () => controller.invalidate(),
  });
  const token = env.ENGINEPOOL_API_TOKEN || undefined;
  const deps = { controller, view: controller.view, registry, metrics, logger, clock, wake };
  const server = createHttpServer({
    routes: [
      ...apiRoutes(deps),
      ...compatRoutes(deps),
      ...statusRoutes({ view: controller.view, specState: () => specSource.current(), clock, hub }),
    ],
    ...(token ? { token } : {}),
    logger,
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
    registry.close();
    return 1;
  }
  if (!token)
    logger.warn('ENGINEPOOL_API_TOKEN is not set: the API is read-only (mutating routes answer 403)');
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
  hub.close();
  server.closeAllConnections();
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  registry.close();
  return 0;
}
