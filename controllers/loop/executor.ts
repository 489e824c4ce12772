import {
  type Action,
  assertNever,
  type CreateAction,
  type FailureReason,
  type RemoveAction,
} from '../../reconcilers/actions.js';
import { type CreateStep, classifyCreateFault, type FaultScope } from '../../reconcilers/faults.js';
import type { Clock } from '../../state/clock.js';
import type { PoolSpec } from '../../state/spec/index.js';
import { renderEngine } from '../../state/template.js';
import type { Logger } from '../observability/logger.js';
import { isUnavailable, type Runtime, type RuntimeError } from '../runtime/runtime.js';

// Applies a plan: removes and restarts first (bounded parallelism), then creates: at the concurrency
// cap at once when every template involved had its last create succeed, otherwise in slow start (one
// create alone, then each success lets two more start, without waiting for the slowest); the first
// systemic failure stops new creates, so it costs one call, while a failure local to one name or port
// only gives its slot to the next create (reconcilers/faults.ts classifies Docker's errors). A create
// whose name a failed removal of the same plan was to free is not attempted. One exhaustive switch
// maps an action to its Docker calls.

/** What came of one action. */
export type Outcome =
  | { readonly action: Action; readonly ok: true; readonly containerId?: string }
  | {
      readonly action: Action;
      readonly ok: false;
      readonly error: string;
      /** Set when this counts as a provisioning failure for the circuit breaker. */
      readonly failure?: FailureReason;
      /** Set when the action was not attempted (an earlier create failed, an image is being pulled). */
      readonly skipped?: SkipCode;
      /** Docker could not be reached: nothing about the action itself is known. */
      readonly unavailable?: boolean;
      /** How far a failed create reaches: `local` ones do not stop the other creates. */
      readonly scope?: FaultScope;
    };

/** Why an action was not attempted: data the controller acts on, never a message matched as text. */
export type SkipCode =
  | 'dockerUnavailable'
  | 'earlierCreateFailed'
  | 'poolRemoved'
  | 'imagePulling'
  | 'nameHeld'
  | 'removalInProgress';

/** Options of an {@link Executor}. */
export interface ExecutorOptions {
  readonly docker: Runtime;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Docker calls in flight at once. */
  readonly concurrency?: number;
  /** How long a port Docker refused is set aside. */
  readonly setAsideMs?: number;
  /** How long after a failed pull the same image is not pulled again. */
  readonly pullRetryMs?: number;
  /** Where engine ports are published when the template names no `hostIp` (undefined: everywhere). */
  readonly defaultHostIp?: () => string | undefined;
}

/** Applies actions to Docker. */
export class Executor {
  private readonly refusedPorts = new Map<number, number>();
  /** Stuck containers whose removal is being retried now. */
  private readonly retrying = new Set<string>();
  private readonly pulls = new Map<string, { pulling: boolean; at: number; error?: string }>();
  /** Templates (by hash) whose last create worked: their creates skip the slow start. */
  private readonly provenTemplates = new Set<string>();

  constructor(private readonly options: ExecutorOptions) {}

  /** Ports Docker refused recently (a host process holds them). */
  setAsidePorts(): Set<number> {
    const now = this.options.clock.now();
    for (const [port, until] of this.refusedPorts) if (until <= now) this.refusedPorts.delete(port);
    return new Set(this.refusedPorts.keys());
  }

  /** The state of an image this controller tried to pull: being pulled, or the last pull's error. */
  pullState(image: string): { readonly pulling: boolean; readonly error?: string } | undefined {
    return this.pulls.get(image);
  }

  /**
   * Applies the actions of a plan; `poolOf` resolves a create's pool spec. Retried removals of stuck
   * engines run in the background: `onRetried` gets their outcomes when Docker has answered.
   */
  async execute(
    actions: readonly Action[],
    poolOf: (name: string) => PoolSpec | undefined,
    onPulled: () => void,
    onRetried: (outcomes: readonly Outcome[]) => void = () => {},
  ): Promise<Outcome[]> {
    const retry = (a: Action): a is RemoveAction => a.kind === 'remove' && a.retry === true;
    const first = actions.filter((a) => a.kind !== 'create' && !retry(a));
    const creates = actions.filter((a): a is CreateAction => a.kind === 'create');
    this.retryInBackground(actions.filter(retry), poolOf, onPulled, onRetried);
    const outcomes = await this.parallel(first, (action) => this.apply(action, poolOf, onPulled));
    if (outcomes.some((o) => !o.ok && o.unavailable)) {
      return [
        ...outcomes,
        ...creates.map((action) => skipped(action, 'dockerUnavailable', 'Docker is unavailable')),
      ];
    }
    // Why: the plan reuses a removed engine's name at once; when Docker refused that removal, the
    // create would only hit a name conflict. The next pass holds the name and places it elsewhere.
    const notRemoved = new Set(
      outcomes.filter((o) => !o.ok && o.action.kind === 'remove').map((o) => o.action.name),
    );
    const held = creates.filter((c) => notRemoved.has(c.name));
    const free = creates.filter((c) => !notRemoved.has(c.name));
    const template = (action: CreateAction) => poolOf(action.pool)?.templateHash ?? '';
    const proven = free.every((action) => this.provenTemplates.has(template(action)));
    const created = await this.slowStart(free, proven, (action) => this.apply(action, poolOf, onPulled));
    for (const outcome of created) {
      const hash = template(outcome.action as CreateAction);
      if (outcome.ok) this.provenTemplates.add(hash);
      else if (outcome.failure) this.provenTemplates.delete(hash);
    }
    outcomes.push(
      ...held.map((action) =>
        skipped(action, 'nameHeld', `${action.name} could not be removed; its name stays held`),
      ),
      ...created,
    );
    return outcomes;
  }

  /**
   * Why: a retried removal frees no name or port of the plan, and Docker may take seconds to refuse it
   * again (overlay2 retries); neither the creates nor the pass wait for it. A container whose removal
   * is still being retried is not retried twice at once.
   */
  private retryInBackground(
    retries: readonly RemoveAction[],
    poolOf: (name: string) => PoolSpec | undefined,
    onPulled: () => void,
    onRetried: (outcomes: readonly Outcome[]) => void,
  ): void {
    const due = retries.filter((a) => !this.retrying.has(a.containerId));
    if (due.length === 0) return;
    const ids = due.map((a) => a.containerId);
    for (const id of ids) this.retrying.add(id);
    void this.parallel(due, (action) => this.apply(action, poolOf, onPulled)).then((outcomes) => {
      for (const id of ids) this.retrying.delete(id);
      onRetried(outcomes);
    });
  }

  /**
   * Runs creates in slow start. Why not batches: each batch of 1, 2, 4, 8 waited for its slowest create
   * while dockerd had room for more; 0 -> 20 engines took 1.12x the time of 20 parallel `docker run`s
   * (bench/startup.bench.ts). A finished create now frees its slots at once. A `proven` template (its
   * last create worked) starts at the cap: probing with one create first cost a whole create's time.
   */
  private slowStart(
    creates: readonly CreateAction[],
    proven: boolean,
    apply: (action: Action) => Promise<Outcome>,
  ): Promise<Outcome[]> {
    const cap = this.options.concurrency ?? 8;
    const results: Outcome[] = new Array(creates.length);
    let next = 0;
    let allowed = proven ? cap : 1;
    let inFlight = 0;
    let failed = false;
    return new Promise((resolve) => {
      const finish = () => {
        for (let i = next; i < creates.length; i++)
          results[i] = skipped(creates[i]!, 'earlierCreateFailed', 'an earlier create of this plan failed');
        resolve(results);
      };
      const launch = () => {
        while (!failed && next < Math.min(allowed, creates.length) && inFlight < cap) {
          const i = next++;
          inFlight++;
          void apply(creates[i]!).then((outcome) => {
            results[i] = outcome;
            inFlight--;
            if (outcome.ok) allowed += 2;
            else if (outcome.scope === 'local') allowed += 1;
            else failed = true;
            launch();
            if (inFlight === 0) finish();
          });
        }
      };
      launch();
      if (inFlight === 0) finish();
    });
  }

  private async parallel(
    actions: readonly Action[],
    fn: (action: Action) => Promise<Outcome>,
  ): Promise<Outcome[]> {
    const limit = this.options.concurrency ?? 8;
    const results: Outcome[] = new Array(actions.length);
    let cursor = 0;
    const worker = async () => {
      while (cursor < actions.length) {
        const i = cursor++;
        results[i] = await fn(actions[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, actions.length) }, worker));
    return results;
  }

  private async apply(
    action: Action,
    poolOf: (name: string) => PoolSpec | undefined,
    onPulled: () => void,
  ): Promise<Outcome> {
    const { docker } = this.options;
    try {
      switch (action.kind) {
        case 'remove':
          try {
            await docker.removeContainer(action.containerId);
          } catch (error) {
            // Why: a container removed by hand (docker rm -f) is listed as removing for a moment; its
            // removal is under way, not refused. It frees its name soon (the destroy event wakes a pass),
            // so it is neither held as stuck nor replaced under another name meanwhile.
            if ((error as RuntimeError).kind === 'removing')
              return skipped(
                action,
                'removalInProgress',
                `the removal of ${action.name} is already under way`,
              );
            throw error;
          }
          return { action, ok: true, containerId: action.containerId };
        case 'restart':
          await docker.restartContainer(action.containerId, 5);
          return { action, ok: true, containerId: action.containerId };
        case 'create': {
          const pool = poolOf(action.pool);
          if (!pool) return skipped(action, 'poolRemoved', `pool ${action.pool} is no longer in the file`);
          return await this.create(action, pool, onPulled);
        }
        default:
          return assertNever(action);
      }
    } catch (error) {
      return {
        action,
        ok: false,
        error: (error as Error).message,
        ...(isUnavailable(error) ? { unavailable: true } : {}),
      };
    }
  }

  private async create(action: CreateAction, pool: PoolSpec, onPulled: () => void): Promise<Outcome> {
    const { docker } = this.options;
    const image = pool.template.image;
    if (this.pulls.get(image)?.pulling)
      return skipped(action, 'imagePulling', `image ${image} is being pulled`);
    let containerId: string;
    try {
      containerId = await docker.createContainer(renderEngine(pool, action, this.options.defaultHostIp?.()));
    } catch (error) {
      const e = error as RuntimeError;
      if (e.kind === 'imageNotFound') {
        if (this.startPull(image, onPulled))
          return skipped(action, 'imagePulling', `image ${image} is not present; pulling it`);
        const last = this.pulls.get(image)?.error;
        return {
          action,
          ok: false,
          error: `image ${image} not found${last ? ` and the pull failed: ${last}` : ''}`,
          failure: 'ImageNotFound',
          scope: 'systemic',
        };
      }
      return this.failedCreate(action, 'create', e);
    }
    try {
      await docker.startContainer(containerId);
      return { action, ok: true, containerId };
    } catch (error) {
      await docker.removeContainer(containerId).catch(() => {});
      return this.failedCreate(action, 'start', error as RuntimeError);
    }
  }

  /** The outcome of a create or start Docker refused, as reconcilers/faults.ts classifies it. */
  private failedCreate(action: CreateAction, step: CreateStep, e: RuntimeError): Outcome {
    const fault = classifyCreateFault(step, e.kind, e.message);
    if (fault.setAsidePort) {
      this.refusedPorts.set(action.hostPort, this.options.clock.now() + (this.options.setAsideMs ?? 120_000));
    }
    return {
      action,
      ok: false,
      error: fault.setAsidePort
        ? `host port ${action.hostPort} is taken outside Docker's view (${e.message}); set aside`
        : e.message,
      scope: fault.scope,
      ...(fault.scope === 'daemon' ? { unavailable: true } : {}),
      ...(fault.failure ? { failure: fault.failure } : {}),
    };
  }

  /** Starts one pull of an image (unless one ran recently); true when a pull was started. */
  private startPull(image: string, onPulled: () => void): boolean {
    const now = this.options.clock.now();
    const previous = this.pulls.get(image);
    if (previous && (previous.pulling || now - previous.at < (this.options.pullRetryMs ?? 600_000)))
      return false;
    const log = this.options.logger.child({ image });
    this.pulls.set(image, { pulling: true, at: now });
    log.info('image not present; pulling it');
    let lastLine = '';
    void this.options.docker
      .pullImage(image, (line) => {
        if (line !== lastLine) log.debug({ progress: line }, 'pull progress');
        lastLine = line;
      })
      .then(
        () => {
          this.pulls.delete(image);
          log.info('image pulled');
        },
        (error: Error) => {
          this.pulls.set(image, { pulling: false, at: this.options.clock.now(), error: error.message });
          log.error(
            { err: error.message },
            `cannot pull image ${image}: build it or pull it by hand (docker pull ${image}), or fix template.image`,
          );
        },
      )
      .finally(onPulled);
    return true;
  }
}

function skipped(action: Action, code: SkipCode, why: string): Outcome {
  return { action, ok: false, error: why, skipped: code };
}
