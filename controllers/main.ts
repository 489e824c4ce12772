import { resolve } from 'node:path';
import { type Clock, systemClock } from '../state/clock.js';
import { vpnContainers } from '../state/spec.js';
import { detectSelf, type SelfLocation } from './addressing.js';
import { apiRoutes } from './api.js';
import { compatRoutes } from './compat.js';
import { Controller } from './controller.js';
import { createDockerPort } from './docker.js';
import { concernsPools, DockerEvents } from './events.js';
import { createHttpServer } from './http.js';
import { createLogger, type Logger } from './logger.js';
import { Loop } from './loop.js';
import { Metrics } from './metrics.js';
import { SpecSource } from './specSource.js';
import { defaultStateDirFor, StateDirLockedError, StreamRegistry } from './streams.js';
import { StreamWatcher } from './streamWatcher.js';
import { packageVersion } from './version.js';

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

/** Parses ENGINEPOOL_STREAM_CHECK_SECONDS: how often open streams are checked against their engines. */
export function parseCheckSeconds(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 10;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600)
    throw new Error(`ENGINEPOOL_STREAM_CHECK_SECONDS expects seconds between 0.1 and 3600, got "${text}"`);
  return seconds;
}

/** Parses `HOST:PORT` (or `:PORT`, or `PORT`). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new Error(`--listen expects HOST:PORT, got "${text}"`);
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host || '0.0.0.0', port };
}

/** ENGINEPOOL_RESYNC_SECONDS: the longest time between two passes (default 10). */
function resyncSeconds(env: RunOptions['env']): number {
  const value = Number(env.ENGINEPOOL_RESYNC_SECONDS ?? 10);
  return Number.isFinite(value) && value >= 0.5 ? value : 10;
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
  const metrics = new Metrics({
    build: {
      version: packageVersion(),
      ...(env.ENGINEPOOL_REVISION ? { revision: env.ENGINEPOOL_REVISION } : {}),
    },
  });
  const docker = createDockerPort({ dockerHost: env.DOCKER_HOST, observe: metrics.dockerCall });
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
  const wake = (reason: string) => loop?.wake(reason);
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
  });
  const watcher = new StreamWatcher({
    registry,
    clock,
    logger,
    endpoint: (containerId) => controller.allEngines().find((e) => e.containerId === containerId),
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
      controller.observer.invalidateAll();
      if (!selfKnown) void refreshSelf();
    },
  });
  const events = new DockerEvents({
    docker,
    clock,
    logger,
    wake,
    relevant: (event) => concernsPools(event, vpnContainers(specSource.current().spec)),
    onStarted: (id) => controller.observer.invalidate(id),
    onGap: () => controller.observer.invalidateAll(),
  });
  const token = env.ENGINEPOOL_API_TOKEN || undefined;
  const warnings = token ? [] : [NO_TOKEN_WARNING];
  const deps = { controller, registry, metrics, logger, clock, wake, warnings };
  const server = createHttpServer({
    routes: [...apiRoutes(deps), ...compatRoutes(deps)],
    ...(token ? { token } : {}),
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
  server.closeAllConnections();
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  registry.close();
  return 0;
}
