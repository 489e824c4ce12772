import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

// The integration harness: a real Docker engine, the real `./bin/enginepool` as a child process, and
// waits on observable conditions with a deadline (never fixed sleeps).

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');

/** The stand-in images (built by scripts/build-images.sh in the global setup). */
export const ENGINE_IMAGE = 'enginepool/stand-in-engine:dev';
export const GLUETUN_IMAGE = 'enginepool/stand-in-gluetun:dev';

/** A Docker client for tests (the controller has its own). */
export const docker = new Docker(dockerOptions(process.env.DOCKER_HOST));

// Why: the same suite runs against another daemon (a private dockerd, Podman) with only DOCKER_HOST set.
function dockerOptions(host: string | undefined): Docker.DockerOptions {
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port) };
}

let podman: Promise<boolean> | undefined;
/** True when DOCKER_HOST points at Podman's Docker-compatible API (its version names `Podman Engine`). */
export function onPodman(): Promise<boolean> {
  podman ??= docker
    .version()
    .then((v) => (v.Components ?? []).some((c: { Name?: string }) => /podman/i.test(c.Name ?? '')));
  return podman;
}

/** Waits until `check` returns a truthy value; fails with `what` and the last value after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Containers of a pool, by name. */
export async function poolContainers(pool: string, all = false) {
  const list = await docker.listContainers({ all, filters: { label: [`io.enginepool.pool=${pool}`] } });
  return list
    .map((c) => ({ id: c.Id, name: c.Names[0]!.slice(1), state: c.State, labels: c.Labels, ports: c.Ports }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

/** Removes containers (by name prefix or pool label), ignoring those already gone. */
export async function removeContainers(options: { pool?: string; names?: string[] }): Promise<void> {
  const ids = new Set<string>();
  if (options.pool) for (const c of await poolContainers(options.pool, true)) ids.add(c.id);
  for (const name of options.names ?? []) ids.add(name);
  await removeAll([...ids]);
}

/**
 * Force-removes containers and waits until Docker lists them no more (a removal may still be in
 * progress when `remove` returns). What Docker cannot remove (overlay2 "device or resource busy" after
 * a dockerd restart) is reported, not thrown: the controller runs pools around such containers, and
 * the next run tries again.
 */
export async function removeAll(ids: readonly string[], timeoutMs = 10_000): Promise<void> {
  const refused = new Map<string, string>();
  // Why a deadline, not a count: Docker itself retries a busy overlay2 removal for about 5 s per call.
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    ids.map(async (id) => {
      const container = docker.getContainer(id);
      while (Date.now() < deadline) {
        try {
          await container.remove({ force: true, v: true });
        } catch (error) {
          const status = (error as { statusCode?: number }).statusCode;
          if (status === 404) return;
          refused.set(id, (error as Error).message);
        }
        try {
          await container.inspect();
        } catch {
          refused.delete(id);
          return;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      if (!refused.has(id)) refused.set(id, 'still listed when the time was up');
    }),
  );
  for (const [id, message] of refused) console.warn(`could not remove container ${id}: ${message}`);
}

/**
 * Podman only: force-removes a container and the containers that depend on it (`podman rm -f
 * --depend`), again until it is gone. Why again: a controller may put a new engine into its namespace
 * meanwhile, and Podman then reports that container's removal as failed inside a 200.
 */
export async function removeWithDependents(name: string): Promise<void> {
  const remove = () =>
    new Promise<void>((resolveRemoval, reject) =>
      docker.modem.dial(
        {
          // Why: docker-modem drops the path's last character before adding `options`, as dockerode's `?`.
          path: `/v4.0.0/libpod/containers/${encodeURIComponent(name)}?`,
          method: 'DELETE',
          statusCodes: { 200: true, 204: true, 404: 'no such container', 500: 'server error' },
          options: { force: true, depend: true },
        },
        (error) => (error ? reject(error) : resolveRemoval()),
      ),
    );
  await waitFor(`${name} removed with its dependents`, async () => {
    await remove().catch(() => {});
    return await docker
      .getContainer(name)
      .inspect()
      .then(
        () => false,
        () => true,
      );
  });
}

/** GETs a URL and answers the status and parsed JSON (or text). */
export async function http(
  url: string,
  init: { method?: string; token?: string; body?: unknown; raw?: string } = {},
): Promise<{ status: number; body: any; text: string }> {
  const headers: Record<string, string> = {};
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.body !== undefined || init.raw !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    ...(init.raw !== undefined
      ? { body: init.raw }
      : init.body !== undefined
        ? { body: JSON.stringify(init.body) }
        : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

/** A pool document for the stand-in engine; `spec` lines are indented under `spec:`. */
export function poolYaml(
  name: string,
  options: { range: string; replicas: string; template?: string; extra?: string },
): string {
  return `apiVersion: enginepool/v1
kind: EnginePool
metadata:
  name: ${name}
spec:
  template:
    image: ${ENGINE_IMAGE}
    args: ["--http-port={{httpPort}}", "--api-port={{apiPort}}", "--port={{p2pPort}}", "--bind-all"]
${options.template ?? ''}    health:
      path: /webui/api/service?method=get_version
      intervalSeconds: 1
      timeoutSeconds: 1
      failureThreshold: 2
      startupTimeoutSeconds: 20
  replicas: ${options.replicas}
  ports:
    hostRange: ${options.range}
${options.extra ?? ''}`;
}

/** One `./bin/enginepool run` child process with its own config file, state dir and port. */
export class ControllerProcess {
  readonly dir: string;
  readonly config: string;
  readonly stateDir: string;
  port = 0;
  /** A command the controller runs under, such as `nsenter --net=...` (none by default). */
  prefix: readonly string[] = [];
  private child?: ChildProcess;
  private output = '';
  readonly token = 'test-token-0123456789';

  constructor(
    yaml: string,
    readonly env: Record<string, string> = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'enginepool-it-'));
    this.config = join(this.dir, 'pools.yaml');
    this.stateDir = join(this.dir, 'state');
    writeFileSync(this.config, yaml);
  }

  /** Starts the controller and waits for `/livez`. */
  async start(): Promise<this> {
    this.port ||= await freePort();
    this.output = '';
    const [command, ...args] = [
      ...this.prefix,
      join(ROOT, 'bin', 'enginepool'),
      ...['run', '--config', this.config, '--listen', `127.0.0.1:${this.port}`, '--state-dir', this.stateDir],
    ];
    const child = spawn(command!, args, {
      env: {
        ...process.env,
        ENGINEPOOL_API_TOKEN: this.token,
        LOG_LEVEL: 'debug',
        // Why: a short resync makes "nothing changed over several passes" quick to observe.
        ENGINEPOOL_RESYNC_SECONDS: '2',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (chunk) => {
      this.output += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      this.output += chunk;
    });
    await waitFor(
      'the controller to answer /livez',
      async () => (await http(`${this.url}/livez`)).status === 200,
      {
        timeoutMs: 15_000,
      },
    );
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The process id of the running controller (undefined before start). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything the process logged (JSON lines). */
  get logs(): string {
    return this.output;
  }

  /** The parsed JSON log lines. */
  logLines(): Record<string, unknown>[] {
    return this.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Replaces the config file the way editors save: write a new file, rename it over the old one. */
  edit(yaml: string): void {
    const tmp = `${this.config}.tmp`;
    writeFileSync(tmp, yaml);
    renameSync(tmp, this.config);
  }

  readConfig(): string {
    return readFileSync(this.config, 'utf8');
  }

  async api(path: string, init: Parameters<typeof http>[1] = {}) {
    return await http(`${this.url}${path}`, init);
  }

  async pool(name: string) {
    return (await this.api(`/api/v1/pools/${name}`)).body;
  }

  async engines(name: string): Promise<any[]> {
    const { status, body } = await this.api(`/api/v1/pools/${name}/engines`);
    if (status !== 200) throw new Error(`engines answered ${status}`);
    return body;
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    return await exited;
  }
}

/** Runs the CLI once and answers its exit code and output. */
export async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(join(ROOT, 'bin', 'enginepool'), args, {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Answers 200 on an engine's health path through the host port. */
export async function answers(port: number): Promise<boolean> {
  try {
    const { status } = await http(`http://127.0.0.1:${port}/webui/api/service?method=get_version`);
    return status === 200;
  } catch {
    return false;
  }
}

/**
 * What one test file's tests start: controllers and the containers of their pools (and any other
 * containers it tracks). `cleanup()` in `afterEach` kills the controllers, prints their logs when the
 * test failed, and removes the containers.
 */
export class TestScope {
  private readonly controllers: ControllerProcess[] = [];
  private readonly pools: string[] = [];
  private readonly names: string[] = [];

  /** A controller (not started yet) whose `pools` are cleaned up after the test. */
  controller(yaml: string, pools: string[], env: Record<string, string> = {}): ControllerProcess {
    const c = new ControllerProcess(yaml, env);
    this.controllers.push(c);
    this.pools.push(...pools);
    return c;
  }

  /** Removes these pools' containers after the test. */
  pool(...pools: string[]): void {
    this.pools.push(...pools);
  }

  /** Removes these containers (names or ids) after the test. */
  track(...names: string[]): void {
    this.names.push(...names);
  }

  async cleanup(failed = false): Promise<void> {
    const controllers = this.controllers.splice(0);
    if (failed) {
      for (const c of controllers) {
        console.log(
          c.logs
            .split('\n')
            .filter((line) => !/"msg":"(request|wake)"/.test(line))
            .slice(-60)
            .join('\n'),
        );
      }
    }
    await Promise.all(controllers.map((c) => c.stop('SIGKILL')));
    await Promise.all(this.pools.splice(0).map((pool) => removeContainers({ pool })));
    await removeContainers({ names: this.names.splice(0) });
  }
}
