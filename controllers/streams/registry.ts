import { createHash } from 'node:crypto';
import {
  closeSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir, hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { StreamFacts } from '../../reconcilers/engines.js';
import type { Clock, TimerHandle } from '../../state/clock.js';
import { ApiError } from '../http/server.js';
import type { Logger } from '../observability/logger.js';
import {
  applyEntry,
  emptyState,
  type JournalEntry,
  prepareStateDir,
  readStateDir,
  StateStore,
  type StreamRecord,
} from './stateStore.js';

export type { StreamRecord } from './stateStore.js';

// Which engines carry streams: the one thing the controller knows that Docker does not. Idempotent by
// stream id, bounded, and written to the state directory (stateStore.ts) before memory changes and
// before a change is acknowledged, so it survives `kill -9` and a full disk; a corrupt file is set
// aside, never fatal.

/** How many streams, and how much of each, the registry keeps. */
export interface StreamLimits {
  readonly streams: number;
  readonly streamsPerEngine: number;
  readonly labels: number;
  /** Characters of a label key or an id. */
  readonly keyLength: number;
  /** Characters of a label value, a URL, a session id or a stream key. */
  readonly valueLength: number;
}

/** The defaults: far above what engines serve, far below what fills a disk or blocks the loop. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  streams: 10_000,
  streamsPerEngine: 100,
  labels: 32,
  keyLength: 256,
  valueLength: 2_048,
};

/** A stream refused by a limit. */
export class StreamLimitError extends ApiError {}

/** Where streams persist when `--state-dir` is not given: one directory per config file. */
export function defaultStateDirFor(
  config: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  const absolute = resolve(config);
  const hash = createHash('sha256').update(absolute).digest('hex').slice(0, 8);
  return join(base, 'enginepool', `${basename(absolute).replace(/[^A-Za-z0-9._-]/g, '_')}-${hash}`);
}

/**
 * True when `pid` is a live (not zombie) process that looks like enginepool. Why: after `kill -9`
 * the pid may linger as a zombie or be reused by an unrelated process; neither holds the lock.
 */
function isRunningController(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) [ZX]/s.test(stat)) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /enginepool|cli\.js/.test(cmdline);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return true;
    try {
      process.kill(pid, 0);
      return true;
    } catch (signalError) {
      return (signalError as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

/** Refused to start: another controller holds the state directory. */
export class StateDirLockedError extends Error {
  override name = 'StateDirLockedError';
}

/** What a start may say about a stream besides where it runs. */
export type StreamDetails = Omit<StreamRecord, 'id' | 'pool' | 'containerId' | 'engine' | 'startedAt'>;

/** The engine a stream is started on. */
export interface StreamTarget {
  readonly pool: string;
  readonly containerId: string;
  readonly engine: string;
}

/** Options of a {@link StreamRegistry}. */
export interface StreamRegistryOptions {
  /** Where streams persist; undefined keeps them in memory only. */
  readonly stateDir?: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits?: Partial<StreamLimits>;
  /** Told after each state write: whether it succeeded (metrics). */
  readonly onWrite?: (ok: boolean) => void;
}

const LOCK_FILE = 'controller.lock';
const LOCK_FRESH_MS = 30_000;
const LOCK_HEARTBEAT_MS = 10_000;

/** The controller that holds (or last held) a state directory's lock. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

function readLock(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

function holderAlive(holder: LockHolder, path: string): boolean {
  if (holder.host === hostname()) {
    // Why: in a restarted container the previous incarnation had our pid (1) and our hostname.
    if (holder.pid === process.pid) return false;
    return isRunningController(holder.pid);
  }
  // Another host (a container sharing the volume): alive while it keeps its heartbeat fresh.
  try {
    return Date.now() - statSync(path).mtimeMs < LOCK_FRESH_MS;
  } catch {
    return false;
  }
}

/** Who holds a state directory's lock (for `doctor`): undefined when nobody does; `alive` when it still runs. */
export function stateDirHolder(stateDir: string): (LockHolder & { readonly alive: boolean }) | undefined {
  const path = join(stateDir, LOCK_FILE);
  const holder = readLock(path);
  return holder ? { ...holder, alive: holderAlive(holder, path) } : undefined;
}

/** The stream registry of one controller. */
export class StreamRegistry {
  private readonly state = emptyState();
  private readonly streams = this.state.streams;
  private readonly engineLastEndedAt = this.state.engineLastEndedAt;
  private readonly poolLastEndedAt = this.state.poolLastEndedAt;
  private readonly store?: StateStore;
  private readonly lockFile?: string;
  private readonly limits: StreamLimits;
  private heartbeat?: TimerHandle;

  constructor(private readonly options: StreamRegistryOptions) {
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...options.limits };
    if (options.stateDir) {
      this.store = new StateStore({
        stateDir: options.stateDir,
        clock: options.clock,
        logger: options.logger,
        ...(options.onWrite ? { onWrite: options.onWrite } : {}),
      });
      this.lockFile = join(options.stateDir, LOCK_FILE);
    }
  }

  /** Why the last state write failed, while it did (readiness). */
  writeError(): string | undefined {
    return this.store?.writeError();
  }

  /** Takes the state directory's lock and loads the persisted streams. Throws {@link StateDirLockedError}. */
  open(): void {
    const { stateDir } = this.options;
    if (!stateDir || !this.store || !this.lockFile) return;
    prepareStateDir(stateDir);
    this.lock(this.lockFile);
    this.store.load(this.state);
  }

  /** Releases the lock. Streams stay on disk for the next start. */
  close(): void {
    if (this.heartbeat !== undefined) this.options.clock.clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
    this.store?.close();
    if (!this.lockFile) return;
    try {
      const holder = JSON.parse(readFileSync(this.lockFile, 'utf8')) as { pid?: number; host?: string };
      if (holder.pid === process.pid && holder.host === hostname()) {
        writeFileSync(this.lockFile, '');
        renameSync(this.lockFile, `${this.lockFile}.released`);
      }
    } catch {
      // Nothing to release.
    }
  }

  private lock(path: string): void {
    const me = {
      pid: process.pid,
      host: hostname(),
      since: new Date(this.options.clock.now()).toISOString(),
    };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, JSON.stringify(me));
        closeSync(fd);
        this.scheduleHeartbeat(path);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readLock(path);
      if (holder && holderAlive(holder, path)) {
        throw new StateDirLockedError(
          `state directory ${this.options.stateDir} is in use by enginepool pid ${holder.pid} on host ${holder.host} (since ${holder.since}); stop that controller or give this one another --state-dir`,
        );
      }
      this.options.logger.warn({ lock: path, holder }, 'taking over a stale state-directory lock');
      renameSync(path, `${path}.stale`);
    }
    throw new StateDirLockedError(`could not take the lock ${path}`);
  }

  private scheduleHeartbeat(path: string): void {
    this.heartbeat = this.options.clock.setTimeout(() => {
      try {
        const now = new Date();
        utimesSync(path, now, now);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'cannot refresh the state-directory lock');
      }
      this.scheduleHeartbeat(path);
    }, LOCK_HEARTBEAT_MS);
  }

  /** Writes a change, then applies it: a refused write changes nothing. */
  private commit(entry: JournalEntry): void {
    this.store?.append(entry, this.state);
    applyEntry(this.state, entry);
  }

  private checkLimits(target: StreamTarget, id: string, details: StreamDetails, isNew: boolean): void {
    const { limits } = this;
    const refuse = (message: string) => {
      throw new StreamLimitError(isNew ? 429 : 400, 'stream_limit', message);
    };
    if (id.length > limits.keyLength) refuse(`a stream id has at most ${limits.keyLength} characters`);
    const labels = Object.entries(details.labels ?? {});
    if (labels.length > limits.labels)
      refuse(`a stream has at most ${limits.labels} labels, got ${labels.length}`);
    for (const [key, value] of labels) {
      if (key.length > limits.keyLength || value.length > limits.valueLength)
        refuse(`a label key has at most ${limits.keyLength} characters and a value ${limits.valueLength}`);
    }
    for (const value of [
      details.statUrl,
      details.commandUrl,
      details.playbackSessionId,
      details.key?.value,
    ]) {
      if (value !== undefined && value.length > limits.valueLength)
        refuse(`stream URLs, session ids and keys have at most ${limits.valueLength} characters`);
    }
    if (!isNew) return;
    if (this.streams.size >= limits.streams)
      refuse(`${limits.streams} streams are open, the most the controller keeps; end some first`);
    if (this.onEngine(target.containerId).length >= limits.streamsPerEngine)
      refuse(`${target.engine} has ${limits.streamsPerEngine} open streams, the most per engine`);
  }

  /**
   * Starts a stream. The same id on the same engine counts once: it only updates the details given
   * (a proxy that reconnects gets a new stat URL); the same id on another engine moves it there.
   */
  start(
    target: StreamTarget,
    id: string,
    details: StreamDetails = {},
  ): { stream: StreamRecord; created: boolean } {
    const existing = this.streams.get(id);
    const same = existing !== undefined && existing.containerId === target.containerId;
    this.checkLimits(target, id, details, !same);
    if (same) {
      const given = Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined));
      const updated: StreamRecord = { ...existing, ...given };
      if (JSON.stringify(updated) === JSON.stringify(existing)) return { stream: existing, created: false };
      this.commit({ op: 'start', stream: updated });
      return { stream: updated, created: false };
    }
    const stream: StreamRecord = { id, ...target, startedAt: this.options.clock.now(), ...details };
    this.commit({ op: 'start', stream });
    return { stream, created: true };
  }

  /** Ends a stream; false when it was unknown or already ended (nothing changes then). */
  end(id: string): StreamRecord | undefined {
    const stream = this.streams.get(id);
    if (!stream) return undefined;
    this.commit({ op: 'end', ids: [id], at: this.options.clock.now() });
    return stream;
  }

  /** Ends the streams of engines that no longer exist; returns them. */
  endMissing(liveContainerIds: ReadonlySet<string>): StreamRecord[] {
    const gone = [...this.streams.values()].filter((s) => !liveContainerIds.has(s.containerId));
    const ended = new Set(gone.map((s) => s.containerId));
    const prune = [...this.engineLastEndedAt.keys(), ...ended].filter((id) => !liveContainerIds.has(id));
    if (gone.length === 0 && prune.length === 0) return [];
    this.commit({
      op: 'end',
      ids: gone.map((s) => s.id),
      at: this.options.clock.now(),
      prune: [...new Set(prune)],
    });
    return gone;
  }

  /** The open stream with this id, if any. */
  get(id: string): StreamRecord | undefined {
    return this.streams.get(id);
  }

  /** Every open stream. */
  list(): StreamRecord[] {
    return [...this.streams.values()];
  }

  /** Open streams of one engine (by container id). */
  onEngine(containerId: string): StreamRecord[] {
    return this.list().filter((s) => s.containerId === containerId);
  }

  /** Per-engine facts for the reconcilers. */
  facts(): Map<string, StreamFacts> {
    const facts = new Map<string, { open: number; lastEndedAt?: number }>();
    for (const [containerId, at] of this.engineLastEndedAt)
      facts.set(containerId, { open: 0, lastEndedAt: at });
    for (const stream of this.streams.values()) {
      const fact = facts.get(stream.containerId) ?? { open: 0 };
      fact.open++;
      facts.set(stream.containerId, fact);
    }
    return facts;
  }

  /** When the last stream of each pool ended. */
  poolFacts(): Map<string, number> {
    return new Map(this.poolLastEndedAt);
  }
}

/** Reads the persisted stream facts without taking the lock (for `plan`). Missing or unreadable: none. */
export function readStreamFacts(
  stateDir: string | undefined,
  config: string,
  env: Readonly<Record<string, string | undefined>>,
): { engines: Map<string, StreamFacts>; pools: Map<string, number> } {
  const engines = new Map<string, { open: number; lastEndedAt?: number }>();
  let pools = new Map<string, number>();
  try {
    const state = readStateDir(stateDir ?? defaultStateDirFor(config, env));
    for (const [id, at] of state.engineLastEndedAt) engines.set(id, { open: 0, lastEndedAt: at });
    for (const stream of state.streams.values()) {
      const fact = engines.get(stream.containerId) ?? { open: 0 };
      fact.open++;
      engines.set(stream.containerId, fact);
    }
    pools = state.poolLastEndedAt;
  } catch {
    // No state yet.
  }
  return { engines, pools };
}
