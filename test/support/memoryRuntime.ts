import { createHash } from 'node:crypto';
import type { HttpGetResult, httpGet } from '../../controllers/http/client.js';
import {
  type Runtime,
  RuntimeError,
  type RuntimeEvent,
  type RuntimeVersion,
} from '../../controllers/runtime/runtime.js';
import type { Clock } from '../../state/clock.js';
import { LABELS } from '../../state/labels.js';
import type { DockerContainerDetails, DockerContainerSummary } from '../../state/observed.js';
import type { CreateContainerBody } from '../../state/template.js';

// A container engine in memory, for whole-tick tests in the unit project: containers with a state,
// unique names (409), unique published host ports (refused at start, as dockerd does), `container:`
// network modes that need a running donor, an event stream, and Docker's list/inspect JSON shapes.
// Time comes from the test's clock. Beside the Runtime port it offers what a test does to Docker by
// hand (run a foreign or Gluetun container, kill one) and an HTTP client that answers from the
// containers' state, for the controller's engine probes.

/** How the containers of an image behave. */
export interface ImageBehaviour {
  /** Starting a container fails with this message (a broken entrypoint): a StartFailed for the breaker. */
  readonly startError?: string;
  /** Its HTTP server answers 200 on every path once started; otherwise the port refuses. */
  readonly answers?: boolean;
}

/** One container, as the memory runtime keeps it. */
export interface MemoryContainer {
  readonly id: string;
  readonly name: string;
  readonly body: CreateContainerBody;
  readonly createdAt: number;
  state: 'created' | 'running' | 'exited';
  exitCode: number;
  startedAt?: number;
}

interface Subscriber {
  readonly push: (event: RuntimeEvent) => void;
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '0001-01-01T00:00:00Z' : new Date(ms).toISOString();
}

function hostPorts(body: CreateContainerBody): number[] {
  return Object.values(body.HostConfig.PortBindings ?? {}).flatMap((list) =>
    list.map((binding) => Number(binding.HostPort)),
  );
}

/** An in-memory {@link Runtime}. */
export class MemoryRuntime implements Runtime {
  private readonly containers = new Map<string, MemoryContainer>();
  private readonly images = new Map<string, ImageBehaviour>();
  private readonly events_: RuntimeEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private sequence = 0;
  /** Every call that changes a container, as `<op> <name>`, in order. */
  readonly calls: string[] = [];
  /** Host ports a process outside the runtime listens on: a start that publishes one is refused. */
  readonly hostProcessPorts = new Set<number>();

  constructor(private readonly clock: Clock) {}

  /** Makes an image present (again), with how its containers behave. */
  addImage(ref: string, behaviour: ImageBehaviour = {}): void {
    this.images.set(ref, behaviour);
  }

  /** The container with this name, id or id prefix. */
  find(idOrName: string): MemoryContainer | undefined {
    const direct = this.containers.get(idOrName);
    if (direct) return direct;
    for (const c of this.containers.values()) {
      if (c.name === idOrName.replace(/^\//, '') || (idOrName.length >= 4 && c.id.startsWith(idOrName)))
        return c;
    }
    return undefined;
  }

  /** Every container, in creation order. */
  list(): MemoryContainer[] {
    return [...this.containers.values()];
  }

  /** Names of the running containers, sorted. */
  running(): string[] {
    return this.list()
      .filter((c) => c.state === 'running')
      .map((c) => c.name)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  }

  /** Creates and starts a container as `docker run -d` would (a foreign one, a stand-in Gluetun). */
  async run(body: CreateContainerBody): Promise<string> {
    const id = await this.createContainer(body);
    await this.startContainer(id);
    return id;
  }

  /** The container's main process ends (`docker kill`, a crash, the OOM killer). */
  kill(idOrName: string, exitCode = 137): void {
    const container = this.find(idOrName);
    if (container?.state !== 'running') throw new Error(`${idOrName} is not running`);
    container.state = 'exited';
    container.exitCode = exitCode;
    this.emit(container, 'kill');
    this.emit(container, 'die');
  }

  /**
   * The client the engine probes use: a GET to a host port answers 200 when a running container
   * publishes it and its image answers, or when the port is published by a running namespace donor
   * (a VPN container) and a running engine in its namespace holds that port by label.
   */
  readonly httpGet = async (url: string): Promise<HttpGetResult> => {
    const port = Number(new URL(url).port);
    const publisher = this.list().find((c) => c.state === 'running' && hostPorts(c.body).includes(port));
    const server =
      publisher && this.isDonor(publisher)
        ? this.list().find(
            (c) =>
              c.state === 'running' &&
              this.donorOf(c) === publisher &&
              c.body.Labels[LABELS.hostPort] === String(port),
          )
        : publisher;
    if (!server || !(this.images.get(server.body.Image)?.answers ?? true))
      return { ok: false, error: 'ECONNREFUSED' };
    return { ok: true, status: 200, body: '' };
  };

  private donorOf(container: MemoryContainer): MemoryContainer | undefined {
    const mode = container.body.HostConfig.NetworkMode ?? '';
    return mode.startsWith('container:') ? this.find(mode.slice('container:'.length)) : undefined;
  }

  private isDonor(container: MemoryContainer): boolean {
    return this.list().some((c) => this.donorOf(c) === container);
  }

  private emit(container: MemoryContainer, action: string): void {
    const now = this.clock.now();
    const event: RuntimeEvent = {
      Type: 'container',
      Action: action,
      Actor: {
        ID: container.id,
        Attributes: { name: container.name, image: container.body.Image, ...container.body.Labels },
      },
      time: Math.floor(now / 1000),
      timeNano: now * 1_000_000,
    };
    this.events_.push(event);
    for (const subscriber of this.subscribers) subscriber.push(event);
  }

  private get(op: string, idOrName: string): MemoryContainer {
    const container = this.find(idOrName);
    if (!container) throw new RuntimeError('notFound', op, `No such container: ${idOrName}`, 404);
    return container;
  }

  async ping(): Promise<void> {}

  async version(): Promise<RuntimeVersion> {
    return { version: '27.0.0', apiVersion: '1.47', minApiVersion: '1.24', os: 'linux', engine: 'Memory' };
  }

  async listContainers(): Promise<DockerContainerSummary[]> {
    return this.list().map((c) => {
      const running = c.state === 'running';
      const ports = hostPorts(c.body);
      return {
        Id: c.id,
        Names: [`/${c.name}`],
        Image: c.body.Image,
        State: c.state,
        Status: running
          ? 'Up 1 second'
          : c.state === 'created'
            ? 'Created'
            : `Exited (${c.exitCode}) 1 second ago`,
        Created: Math.floor(c.createdAt / 1000),
        Labels: c.body.Labels,
        Ports: running
          ? ports.map((p) => ({ PrivatePort: p, PublicPort: p, Type: 'tcp', IP: '0.0.0.0' }))
          : [],
        HostConfig: { NetworkMode: c.body.HostConfig.NetworkMode ?? 'bridge' },
        NetworkSettings: { Networks: {} },
      };
    });
  }

  async inspectContainer(idOrName: string): Promise<DockerContainerDetails | undefined> {
    const c = this.find(idOrName);
    if (!c) return undefined;
    const bindings = c.body.HostConfig.PortBindings ?? {};
    return {
      Id: c.id,
      Name: `/${c.name}`,
      Created: iso(c.createdAt),
      State: {
        Status: c.state,
        Running: c.state === 'running',
        StartedAt: iso(c.startedAt),
        ExitCode: c.exitCode,
      },
      HostConfig: { NetworkMode: c.body.HostConfig.NetworkMode ?? 'bridge', PortBindings: bindings },
      NetworkSettings: { Ports: c.state === 'running' ? bindings : {}, Networks: {} },
    };
  }

  async createContainer(body: CreateContainerBody): Promise<string> {
    if (!this.images.has(body.Image))
      throw new RuntimeError('imageNotFound', 'create', `No such image: ${body.Image}`, 404);
    const holder = this.find(body.name);
    if (holder && holder.name === body.name) {
      throw new RuntimeError(
        'nameConflict',
        'create',
        `Conflict. The container name "/${body.name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        409,
      );
    }
    const id = createHash('sha256')
      .update(`container ${this.sequence++}`)
      .digest('hex');
    const container: MemoryContainer = {
      id,
      name: body.name,
      body,
      createdAt: this.clock.now(),
      state: 'created',
      exitCode: 0,
    };
    this.containers.set(id, container);
    this.calls.push(`create ${body.name}`);
    this.emit(container, 'create');
    return id;
  }

  async startContainer(containerId: string): Promise<void> {
    const container = this.get('start', containerId);
    if (container.state === 'running') return;
    this.calls.push(`start ${container.name}`);
    this.start(container, 'start');
  }

  private start(container: MemoryContainer, op: string): void {
    const mode = container.body.HostConfig.NetworkMode ?? '';
    if (mode.startsWith('container:')) {
      const donor = this.donorOf(container);
      if (!donor)
        throw new RuntimeError('notFound', op, `No such container: ${mode.slice('container:'.length)}`, 404);
      if (donor.state !== 'running')
        throw new RuntimeError(
          'conflict',
          op,
          `cannot join network of a non running container: ${donor.id}`,
          409,
        );
    }
    for (const port of hostPorts(container.body)) {
      if (this.hostProcessPorts.has(port)) {
        throw new RuntimeError(
          'portInUse',
          op,
          `driver failed programming external connectivity on endpoint ${container.name}: listen tcp4 0.0.0.0:${port}: bind: address already in use`,
          500,
        );
      }
      const taken = this.list().some(
        (c) => c !== container && c.state === 'running' && hostPorts(c.body).includes(port),
      );
      if (taken) {
        throw new RuntimeError(
          'portInUse',
          op,
          `driver failed programming external connectivity on endpoint ${container.name}: Bind for 0.0.0.0:${port} failed: port is already allocated`,
          500,
        );
      }
    }
    const startError = this.images.get(container.body.Image)?.startError;
    if (startError) {
      container.exitCode = 127;
      throw new RuntimeError('server', op, startError, 500);
    }
    container.state = 'running';
    container.startedAt = this.clock.now();
    this.emit(container, 'start');
  }

  async restartContainer(containerId: string): Promise<void> {
    const container = this.get('restart', containerId);
    this.calls.push(`restart ${container.name}`);
    if (container.state === 'running') {
      container.state = 'exited';
      this.emit(container, 'die');
    }
    this.start(container, 'restart');
    this.emit(container, 'restart');
  }

  async removeContainer(containerId: string): Promise<void> {
    const container = this.find(containerId);
    if (!container) return;
    this.calls.push(`remove ${container.name}`);
    if (container.state === 'running') {
      container.state = 'exited';
      this.emit(container, 'kill');
      this.emit(container, 'die');
    }
    this.containers.delete(container.id);
    this.emit(container, 'destroy');
  }

  async imageExists(ref: string): Promise<boolean> {
    return this.images.has(ref);
  }

  async checkPullable(ref: string): Promise<void> {
    throw new RuntimeError('notFound', 'distribution', `no registry in memory: ${ref}`, 404);
  }

  async pullImage(ref: string): Promise<void> {
    throw new RuntimeError('notFound', 'pull', `pull access denied for ${ref}: no registry in memory`, 404);
  }

  async networkExists(name: string): Promise<boolean> {
    return name === 'bridge' || name === 'host' || name === 'none';
  }

  async events(options: { since?: number; signal: AbortSignal }): Promise<AsyncIterable<RuntimeEvent>> {
    const queue: RuntimeEvent[] =
      options.since === undefined ? [] : this.events_.filter((e) => (e.time ?? 0) >= options.since!);
    let wakeUp: (() => void) | undefined;
    const subscriber: Subscriber = {
      push: (event) => {
        queue.push(event);
        wakeUp?.();
      },
    };
    this.subscribers.add(subscriber);
    const { signal } = options;
    const ended = () => {
      this.subscribers.delete(subscriber);
      wakeUp?.();
    };
    signal.addEventListener('abort', ended, { once: true });
    return {
      async *[Symbol.asyncIterator]() {
        while (!signal.aborted) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          await new Promise<void>((resolve) => {
            wakeUp = resolve;
          });
          wakeUp = undefined;
        }
      },
    };
  }
}

/** A stand-in Gluetun's control server: answers from the runtime's container and the test's switches. */
export class GluetunControl {
  /** Gluetun's VPN status: `running`, or `stopped` while the tunnel is down. */
  vpnUp = true;
  forwardedPort: number | null = null;
  publicIp = '203.0.113.7';

  constructor(
    private readonly runtime: MemoryRuntime,
    private readonly container: string,
  ) {}

  /**
   * The controller's HTTP client: the control server at `http://<container>:8000` answers while its
   * container runs (a refused connection otherwise); every other URL goes to the runtime's engines.
   */
  readonly httpGet: typeof httpGet = async (url, options) => {
    const { hostname, pathname } = new URL(url);
    if (hostname !== this.container) return await this.runtime.httpGet(url);
    if (this.runtime.find(this.container)?.state !== 'running') return { ok: false, error: 'ECONNREFUSED' };
    const answers: Record<string, object> = {
      '/v1/vpn/status': { status: this.vpnUp ? 'running' : 'stopped' },
      '/v1/publicip/ip': { public_ip: this.vpnUp ? this.publicIp : '' },
      '/v1/portforward': { port: this.forwardedPort ?? 0 },
    };
    const body = JSON.stringify(answers[pathname] ?? { error: 'not found' });
    return { ok: true, status: answers[pathname] ? 200 : 404, body: body.slice(0, options.maxBytes ?? 0) };
  };
}
