import type { DockerContainerDetails, DockerContainerSummary } from '../../../state/observed.js';
import { createEngineApi, type EngineApi, engineApiAddress, jsonLines, segment } from '../engineApi.js';
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

// The Runtime over Docker's Engine API (engineApi.ts), Docker's errors normalised into RuntimeError
// kinds the loop acts on.

/** Options for {@link createDockerRuntime}. */
export interface DockerRuntimeOptions {
  /** `DOCKER_HOST` (unix://, tcp://, http(s)://) or undefined for the local socket. */
  readonly dockerHost?: string;
  /** Timeout of one API call (not of the event stream or a pull). */
  readonly timeoutMs?: number;
  readonly observe?: RuntimeCallObserver;
}

/** What a failed call rejects with: {@link EngineApiError}, or anything else that went wrong. */
interface RawDockerError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/** Messages of a daemon in trouble (shutting down, containerd gone), not of a bad request. */
const DAEMON_TROUBLE =
  /containerd|grpc|shutting down|transport is closing|failed to update store|connection refused|no such file or directory.*\.sock/i;

/** Turns a daemon's or socket's error into a {@link RuntimeError}. */
export function normaliseError(op: string, error: unknown): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const raw = (error ?? {}) as RawDockerError;
  const text = String(raw.message ?? error).trim();
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
  return new RuntimeError(kind, op, text, status);
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

/** The Runtime over Docker's Engine API. */
export function createDockerRuntime(options: DockerRuntimeOptions = {}): Runtime {
  const api = createEngineApi(engineApiAddress(options.dockerHost), options.timeoutMs ?? 30_000);
  const call = observedCall(options.observe);
  const container = (id: string) => `/containers/${segment(id)}`;

  // Why: Podman's differences (podman.ts) are translated only when Podman answers; asked once.
  let podman: Promise<boolean> | undefined;
  const onPodman = (): Promise<boolean> => {
    podman ??= call('version', async () => isPodman((await dockerVersion(api)).Components)).catch(
      (error: unknown) => {
        podman = undefined;
        throw error;
      },
    );
    return podman;
  };
  const inspect = (id: string) => api.request<DockerContainerDetails>('GET', `${container(id)}/json`);

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
          const details = await call('inspect', () => inspect(id)).catch(() => undefined);
          const mode = details?.HostConfig?.NetworkMode;
          if (mode) networkModes.set(id, mode);
        }),
      );
    }
    return networkModes;
  }

  return {
    ping: () => call('ping', async () => void (await api.request('GET', '/_ping'))),
    version: () =>
      call('version', async () => {
        const v = await dockerVersion(api);
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
      const list = await call('list', () =>
        api.request<DockerContainerSummary[]>('GET', '/containers/json', { query: { all: true } }),
      );
      return (await onPodman()) ? dockerShapedList(list, await learnNetworkModes(list)) : list;
    },
    inspectContainer: async (idOrName) => {
      const details = await orUndefined(call('inspect', () => inspect(idOrName)));
      return details && (await onPodman()) ? dockerShapedDetails(details) : details;
    },
    createContainer: ({ name, ...body }) =>
      call(
        'create',
        async () =>
          (await api.request<{ Id: string }>('POST', '/containers/create', { query: { name }, body })).Id,
      ),
    startContainer: (containerId) =>
      call('start', async () => void (await api.request('POST', `${container(containerId)}/start`))),
    restartContainer: (containerId, timeoutSeconds) =>
      call(
        'restart',
        async () =>
          void (await api.request('POST', `${container(containerId)}/restart`, {
            query: { t: timeoutSeconds },
          })),
      ),
    removeContainer: async (containerId) => {
      await orUndefined(
        call(
          'remove',
          async () =>
            void (await api.request('DELETE', container(containerId), { query: { force: true, v: true } })),
        ),
      );
    },
    imageExists: async (ref) =>
      (await orUndefined(call('image_inspect', () => api.request('GET', `/images/${segment(ref)}/json`)))) !==
      undefined,
    checkPullable: (ref) =>
      call(
        'distribution_inspect',
        async () => void (await api.request('GET', `/distribution/${segment(ref)}/json`)),
      ),
    pullImage: (ref, onProgress) =>
      call('pull', async () => {
        const progress = await api.stream('POST', '/images/create', { query: pullQuery(ref) });
        for await (const event of jsonLines<PullProgress>(progress)) {
          // Why: a pull that fails after it started answers 200 and says so inside the stream.
          const failed = event.errorDetail?.message ?? event.error;
          if (failed) throw new RuntimeError('imageNotFound', 'pull', failed, 404);
          if (event.status) onProgress([event.id, event.status, event.progress].filter(Boolean).join(' '));
        }
      }),
    networkExists: async (name) =>
      (await orUndefined(call('network_inspect', () => api.request('GET', `/networks/${segment(name)}`)))) !==
      undefined,
    events: ({ since, signal }) =>
      call('events', async () => {
        const stream = await api.stream('GET', '/events', {
          query: { filters: { type: ['container'] }, since },
          signal,
        });
        signal.addEventListener('abort', () => stream.destroy(), { once: true });
        return dockerEvents(jsonLines<PodmanEvent>(stream));
      }),
  };
}

/** One line of a pull's progress stream. */
interface PullProgress {
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * The query of a pull of `ref`. Why the tag is split off and defaulted: a reference without one pulls
 * every tag of the repository; the docker CLI pulls `latest`.
 */
export function pullQuery(ref: string): { fromImage: string; tag?: string } {
  if (ref.includes('@')) return { fromImage: ref };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { fromImage: ref, tag: 'latest' };
}

interface DockerVersion {
  Version: string;
  ApiVersion: string;
  Os: string;
  MinAPIVersion?: string;
  Components?: { Name?: string }[];
}

function dockerVersion(api: EngineApi): Promise<DockerVersion> {
  return api.request<DockerVersion>('GET', '/version');
}

/** The stream's events in Docker's words (Podman's translated, see {@link EventTranslator}). */
async function* dockerEvents(events: AsyncIterable<PodmanEvent>): AsyncIterable<RuntimeEvent> {
  const translator = new EventTranslator();
  for await (const raw of events) {
    const event = translator.translate(raw);
    if (event) yield event;
  }
}
