import type { RuntimeErrorKind } from '../../reconcilers/faults.js';
import type { DockerContainerDetails, DockerContainerSummary } from '../../state/observed.js';
import type { CreateContainerBody } from '../../state/template.js';

// The runtime seam: the operations the loop needs from a container engine, and its failures as data.
// An adapter (runtime/docker/ over dockerode; Podman's Docker-compatible API through the same adapter)
// translates; it decides nothing. Container facts keep Docker's JSON shapes (state/observed.ts maps
// them), so every adapter speaks them.

/** One Docker event (`GET /events`), the fields enginepool reads, in Docker's words whatever the engine. */
export interface RuntimeEvent {
  readonly Type?: string;
  readonly Action?: string;
  readonly Actor?: { readonly ID?: string; readonly Attributes?: Readonly<Record<string, string>> };
  /** Seconds since the epoch. */
  readonly time?: number;
  readonly timeNano?: number;
}

/** What Docker's version endpoint says. */
export interface RuntimeVersion {
  readonly version: string;
  readonly apiVersion: string;
  /** The oldest API version the daemon still serves. */
  readonly minApiVersion?: string;
  readonly os: string;
  /** The engine's product name (`Engine` for Docker, `Podman Engine` for Podman's compatible API). */
  readonly engine?: string;
}

/** The kinds of Docker failures (what each means for a plan: reconcilers/faults.ts). */
export type { RuntimeErrorKind };

/** A Docker call that failed, with a kind to act on and Docker's own message. */
export class RuntimeError extends Error {
  constructor(
    readonly kind: RuntimeErrorKind,
    readonly op: string,
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/** True for errors that mean "the daemon is not there" rather than "Docker refused this". */
export function isUnavailable(error: unknown): boolean {
  return error instanceof RuntimeError && (error.kind === 'unavailable' || error.kind === 'forbidden');
}

/** The Docker operations enginepool uses. Implemented over dockerode; any engine with Docker's API fits. */
export interface Runtime {
  ping(): Promise<void>;
  version(): Promise<RuntimeVersion>;
  listContainers(): Promise<DockerContainerSummary[]>;
  /** Undefined when no such container exists. */
  inspectContainer(idOrName: string): Promise<DockerContainerDetails | undefined>;
  createContainer(body: CreateContainerBody): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  restartContainer(containerId: string, timeoutSeconds: number): Promise<void>;
  /** Force-removes a container and its anonymous volumes; a container already gone is not an error. */
  removeContainer(containerId: string): Promise<void>;
  imageExists(ref: string): Promise<boolean>;
  /**
   * Asks the registry, through the daemon (`GET /distribution/{ref}/json`), whether an image can be
   * pulled, without pulling it. Throws a RuntimeError saying why when it cannot.
   */
  checkPullable(ref: string): Promise<void>;
  /** Pulls an image; `onProgress` gets each status line. Errors inside the progress stream reject. */
  pullImage(ref: string, onProgress: (line: string) => void): Promise<void>;
  networkExists(name: string): Promise<boolean>;
  /** Docker's event stream for containers, from `since` (seconds) when given; ends when `signal` aborts. */
  events(options: { since?: number; signal: AbortSignal }): Promise<AsyncIterable<RuntimeEvent>>;
}

/** Observes each Docker call: operation, outcome code and duration (for metrics). */
export type RuntimeCallObserver = (op: string, code: string, seconds: number) => void;
