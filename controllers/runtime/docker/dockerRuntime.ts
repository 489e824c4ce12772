import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import type { DockerContainerDetails, DockerContainerSummary } from '../../../state/observed.js';
import {
  type Runtime,
  type RuntimeCallObserver,
  RuntimeError,
  type RuntimeErrorKind,
  type RuntimeEvent,
} from '../runtime.js';
import {
  dockerShapedDetails,
  dockerShapedList,
  EventTranslator,
  isPodman,
  type PodmanEvent,
  podmanErrorKind,
} from './podman.js';

// The one file that imports dockerode: the Runtime over Docker's Engine API, Docker's errors normalised
// into RuntimeError kinds the loop acts on.

/** Options for {@link createDockerRuntime}. */
export interface DockerRuntimeOptions {
  /** `DOCKER_HOST` (unix://, tcp://, http(s)://) or undefined for the local socket. */
  readonly dockerHost?: string;
  /** Timeout of one API call (not of the event stream or a pull). */
  readonly timeoutMs?: number;
  readonly observe?: RuntimeCallObserver;
}

/** The dockerode options for a DOCKER_HOST value. */
export function connectionOptions(dockerHost: string | undefined): Docker.DockerOptions {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  if (dockerHost.startsWith('/')) return { socketPath: dockerHost };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return {
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    host: url.hostname,
    port: url.port || (url.protocol === 'https:' ? 2376 : 2375),
  };
}

interface RawDockerError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string } | null;
}

/** Messages of a daemon in trouble (shutting down, containerd gone), not of a bad request. */
const DAEMON_TROUBLE =
  /containerd|grpc|shutting down|transport is closing|failed to update store|connection refused|no such file or directory.*\.sock/i;

/** Turns a dockerode/socket error into a {@link RuntimeError}. */
export function normaliseError(op: string, error: unknown): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const raw = (error ?? {}) as RawDockerError;
  const text = String(raw.json?.message ?? raw.message ?? error).trim();
  const status = raw.statusCode;
  if (status === undefined) {
    if (raw.code === 'EACCES' || raw.code === 'EPERM') {
      return new RuntimeError(
        'forbidden',
        op,
        `permission denied on the Docker socket (${text}); run as root or add the user to the "docker" group`,
      );
    }
    return new RuntimeError('unavailable', op, `Docker is not reachable: ${text}`);
  }
  let kind: RuntimeErrorKind = status >= 500 ? 'server' : 'badRequest';
  const podmanKind = status === 500 ? podmanErrorKind(text) : undefined;
  if (podmanKind) kind = podmanKind;
  else if (/port is already allocated|address already in use|bind for .* failed/i.test(text))
    kind = 'portInUse';
  else if (status === 404 && /image/i.test(text)) kind = 'imageNotFound';
  else if (status === 404) kind = 'notFound';
  else if (status === 409 && /name .* is already in use|already in use by container/i.test(text))
    kind = 'nameConflict';
  else if (status === 409 && /removal of container .* is already in progress/i.test(text)) kind = 'removing';
  else if (status === 409) kind = 'conflict';
  // Why: while dockerd shuts down or restarts, its own plumbing fails (containerd, the network
  // store); such a 500 says nothing about the container asked for and must not count against it.
  else if (status >= 500 && DAEMON_TROUBLE.test(text)) kind = 'unavailable';
  return new RuntimeError(kind, op, text.replace(/^\(HTTP code \d+\) [^-]*- /, ''), status);
}

/** Runs Docker calls, timing each for `observe` and turning failures into RuntimeErrors. */
export function observedCall(observe: RuntimeCallObserver = () => {}) {
  return async function call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await fn();
      observe(op, 'ok', (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      const normalised = normaliseError(op, error);
      observe(op, String(normalised.statusCode ?? normalised.kind), (performance.now() - started) / 1000);
      throw normalised;
    }
  };
}

/** The value of a call, or undefined when Docker says there is no such thing. */
export async function orUndefined<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof RuntimeError && (error.kind === 'notFound' || error.kind === 'imageNotFound')) {
      return undefined;
    }
    throw error;
  }
}

/** The Runtime over dockerode. */
export function createDockerRuntime(options: DockerRuntimeOptions = {}): Runtime {
  const connection = connectionOptions(options.dockerHost);
  const api = new Docker({ ...connection, timeout: options.timeoutMs ?? 30_000 });
  // Why: the modem's timeout is an idle timeout; the event stream and pulls are idle for long stretches.
  const streams = new Docker(connection);
  const call = observedCall(options.observe);

  // Why: Podman's differences (podman.ts) are translated only when Podman answers; asked once.
  let podman: Promise<boolean> | undefined;
  const onPodman = (): Promise<boolean> => {
    podman ??= call('version', async () => isPodman((await api.version()).Components)).catch(
      (error: unknown) => {
        podman = undefined;
        throw error;
      },
    );
    return podman;
  };

  /** Each listed container's network mode, inspected once per container (it never changes). */
  const networkModes = new Map<string, string>();
  async function learnNetworkModes(
    list: readonly DockerContainerSummary[],
  ): Promise<ReadonlyMap<string, string>> {
    const listed = new Set(list.map((c) => c.Id));
    for (const id of networkModes.keys()) if (!listed.has(id)) networkModes.delete(id);
    const unknown = [...listed].filter((id) => !networkModes.has(id));
    for (let i = 0; i < unknown.length; i += 8) {
      await Promise.all(
        unknown.slice(i, i + 8).map(async (id) => {
          // Why: a container removed since the list fails its inspect; its mode stays unknown and
          // it is listed as Podman lists it, until the next list.
          const details = await call(
            'inspect',
            async () => (await api.getContainer(id).inspect()) as unknown as DockerContainerDetails,
          ).catch(() => undefined);
          const mode = details?.HostConfig?.NetworkMode;
          if (mode) networkModes.set(id, mode);
        }),
      );
    }
    return networkModes;
  }

  return {
    ping: () => call('ping', async () => void (await api.ping())),
    version: () =>
      call('version', async () => {
        const v = (await api.version()) as Docker.DockerVersion & {
          MinAPIVersion?: string;
          Components?: { Name?: string }[];
        };
        const engine = v.Components?.find((c) => isPodman([c]))?.Name ?? v.Components?.[0]?.Name;
        return {
          version: v.Version,
          apiVersion: v.ApiVersion,
          os: v.Os,
          ...(v.MinAPIVersion ? { minApiVersion: v.MinAPIVersion } : {}),
          ...(engine ? { engine } : {}),
        };
      }),
    listContainers: async () => {
      const list = await call(
        'list',
        async () => (await api.listContainers({ all: true })) as unknown as DockerContainerSummary[],
      );
      return (await onPodman()) ? dockerShapedList(list, await learnNetworkModes(list)) : list;
    },
    inspectContainer: async (idOrName) => {
      const details = await orUndefined(
        call(
          'inspect',
          async () => (await api.getContainer(idOrName).inspect()) as unknown as DockerContainerDetails,
        ),
      );
      return details && (await onPodman()) ? dockerShapedDetails(details) : details;
    },
    createContainer: (body) =>
      call(
        'create',
        async () => (await api.createContainer(body as unknown as Docker.ContainerCreateOptions)).id,
      ),
    startContainer: (containerId) =>
      call('start', async () => void (await api.getContainer(containerId).start())),
    restartContainer: (containerId, timeoutSeconds) =>
      call('restart', async () => void (await api.getContainer(containerId).restart({ t: timeoutSeconds }))),
    removeContainer: async (containerId) => {
      await orUndefined(
        call(
          'remove',
          async () => void (await api.getContainer(containerId).remove({ force: true, v: true })),
        ),
      );
    },
    imageExists: async (ref) =>
      (await orUndefined(call('image_inspect', async () => await api.getImage(ref).inspect()))) !== undefined,
    checkPullable: (ref) =>
      call('distribution_inspect', async () => void (await api.getImage(ref).distribution({}))),
    pullImage: (ref, onProgress) =>
      call('pull', async () => {
        const stream = (await streams.pull(ref)) as Readable;
        await new Promise<void>((resolve, reject) => {
          streams.modem.followProgress(
            stream,
            (error: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
              // Why: docker-modem does not turn an error inside the progress stream into an error.
              const last = output?.at(-1);
              const inStream = last?.errorDetail?.message ?? last?.error;
              if (error) reject(error);
              else if (inStream) reject(new RuntimeError('imageNotFound', 'pull', inStream, 404));
              else resolve();
            },
            (event: { status?: string; progress?: string; id?: string }) => {
              if (event.status)
                onProgress([event.id, event.status, event.progress].filter(Boolean).join(' '));
            },
          );
        });
      }),
    networkExists: async (name) =>
      (await orUndefined(call('network_inspect', async () => await api.getNetwork(name).inspect()))) !==
      undefined,
    events: ({ since, signal }) =>
      call('events', async () => {
        const stream = (await streams.getEvents({
          filters: { type: ['container'] },
          ...(since !== undefined ? { since } : {}),
          abortSignal: signal,
        })) as unknown as Readable;
        signal.addEventListener('abort', () => stream.destroy(), { once: true });
        return dockerEvents(parseEventStream(stream));
      }),
  };
}

/** The stream's events in Docker's words (Podman's translated, see {@link EventTranslator}). */
async function* dockerEvents(events: AsyncIterable<PodmanEvent>): AsyncIterable<RuntimeEvent> {
  const translator = new EventTranslator();
  for await (const raw of events) {
    const event = translator.translate(raw);
    if (event) yield event;
  }
}

/** Splits Docker's newline-delimited JSON event stream (chunks do not align with lines), as sent. */
export async function* parseEventStream(stream: Readable): AsyncIterable<PodmanEvent> {
  let buffer = '';
  for await (const chunk of stream) {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) {
        try {
          yield JSON.parse(line) as PodmanEvent;
        } catch {
          // A torn or foreign line carries nothing we can use; the periodic resync covers it.
        }
      }
      newline = buffer.indexOf('\n');
    }
  }
}
