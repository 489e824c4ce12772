import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
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
import { z } from 'zod';
import type { StreamFacts } from '../../reconcilers/engines.js';
import type { Clock, TimerHandle } from '../../state/clock.js';
import type { Logger } from '../observability/logger.js';

// Which engines carry streams: the one thing the controller knows that Docker does not. Idempotent by
// stream id, persisted to the state directory with an atomic write before a change is acknowledged, so
// it survives `kill -9`; a corrupt file is set aside, never fatal.

/** One open stream. */
export interface StreamRecord {
  readonly id: string;
  readonly pool: string;
  readonly containerId: string;
  readonly engine: string;
  readonly startedAt: number;
  /** The engine's stat URL, polled to find streams that ended without anyone saying so. */
  readonly statUrl?: string;
  readonly commandUrl?: string;
  readonly playbackSessionId?: string;
  readonly key?: { readonly type: string; readonly value: string };
  readonly isLive?: boolean;
  readonly labels?: Readonly<Record<string, string>>;
}

const StreamRecordSchema = z.object({
  id: z.string(),
  pool: z.string(),
  containerId: z.string(),
  engine: z.string(),
  startedAt: z.number(),
  statUrl: z.string().optional(),
  commandUrl: z.string().optional(),
  playbackSessionId: z.string().optional(),
  key: z.object({ type: z.string(), value: z.string() }).optional(),
  isLive: z.boolean().optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

const StateFileSchema = z.object({
  version: z.literal(1),
  streams: z.array(StreamRecordSchema),
  engineLastEndedAt: z.record(z.string(), z.number()),
  poolLastEndedAt: z.record(z.string(), z.number()),
});

type StateFile = z.infer<typeof StateFileSchema>;

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
  private readonly streams = new Map<string, StreamRecord>();
  private readonly engineLastEndedAt = new Map<string, number>();
  private readonly poolLastEndedAt = new Map<string, number>();
  private readonly file?: string;
  private readonly lockFile?: string;
  private heartbeat?: TimerHandle;

  constructor(private readonly options: StreamRegistryOptions) {
    if (options.stateDir) {
      this.file = join(options.stateDir, 'streams.json');
      this.lockFile = join(options.stateDir, LOCK_FILE);
    }
  }

  /** Takes the state directory's lock and loads the persisted streams. Throws {@link StateDirLockedError}. */
  open(): void {
    const { stateDir } = this.options;
    if (!stateDir || !this.file || !this.lockFile) return;
    mkdirSync(stateDir, { recursive: true });
    this.lock(this.lockFile);
    this.load(this.file);
  }

  /** Releases the lock. Streams stay on disk for the next start. */
  close(): void {
    if (this.heartbeat !== undefined) this.options.clock.clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
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

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.setAside(file, `cannot read it: ${(error as Error).message}`);
      return;
    }
    let parsed: ReturnType<typeof StateFileSchema.safeParse>;
    try {
      parsed = StateFileSchema.safeParse(JSON.parse(text));
    } catch (error) {
      this.setAside(file, `not JSON: ${(error as Error).message}`);
      return;
    }
    if (!parsed.success) {
      this.setAside(file, z.prettifyError(parsed.error));
      return;
    }
    for (const stream of parsed.data.streams) this.streams.set(stream.id, stream);
    for (const [id, at] of Object.entries(parsed.data.engineLastEndedAt)) this.engineLastEndedAt.set(id, at);
    for (const [pool, at] of Object.entries(parsed.data.poolLastEndedAt)) this.poolLastEndedAt.set(pool, at);
    this.options.logger.info({ streams: this.streams.size, file }, 'loaded open streams');
  }

  private setAside(file: string, why: string): void {
    const aside = `${file}.corrupt-${this.options.clock.now()}`;
    try {
      renameSync(file, aside);
    } catch {
      // If it cannot even be moved, the next write replaces it.
    }
    this.options.logger.warn(
      { file, movedTo: aside, reason: why },
      'the streams file is unreadable; set it aside and starting with no streams',
    );
  }

  private persist(): void {
    if (!this.file) return;
    const state: StateFile = {
      version: 1,
      streams: [...this.streams.values()],
      engineLastEndedAt: Object.fromEntries(this.engineLastEndedAt),
      poolLastEndedAt: Object.fromEntries(this.poolLastEndedAt),
    };
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
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
    if (existing && existing.containerId === target.containerId) {
      const given = Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined));
      const updated: StreamRecord = { ...existing, ...given };
      if (JSON.stringify(updated) === JSON.stringify(existing)) return { stream: existing, created: false };
      this.streams.set(id, updated);
      this.persist();
      return { stream: updated, created: false };
    }
    const now = this.options.clock.now();
    if (existing) this.markEnded(existing, now);
    const stream: StreamRecord = { id, ...target, startedAt: now, ...details };
    this.streams.set(id, stream);
    this.persist();
    return { stream, created: true };
  }

  /** Ends a stream; false when it was unknown or already ended (nothing changes then). */
  end(id: string): StreamRecord | undefined {
    const stream = this.streams.get(id);
    if (!stream) return undefined;
    this.markEnded(stream, this.options.clock.now());
    this.persist();
    return stream;
  }

  private markEnded(stream: StreamRecord, at: number): void {
    this.streams.delete(stream.id);
    this.engineLastEndedAt.set(stream.containerId, at);
    this.poolLastEndedAt.set(stream.pool, at);
  }

  /** Ends the streams of engines that no longer exist; returns them. */
  endMissing(liveContainerIds: ReadonlySet<string>): StreamRecord[] {
    const gone = [...this.streams.values()].filter((s) => !liveContainerIds.has(s.containerId));
    const now = this.options.clock.now();
    for (const stream of gone) this.markEnded(stream, now);
    let pruned = false;
    for (const id of this.engineLastEndedAt.keys()) {
      if (!liveContainerIds.has(id)) {
        this.engineLastEndedAt.delete(id);
        pruned = true;
      }
    }
    if (gone.length > 0 || pruned) this.persist();
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
  const pools = new Map<string, number>();
  try {
    const dir = stateDir ?? defaultStateDirFor(config, env);
    const parsed = StateFileSchema.safeParse(JSON.parse(readFileSync(join(dir, 'streams.json'), 'utf8')));
    if (!parsed.success) return { engines, pools };
    for (const [id, at] of Object.entries(parsed.data.engineLastEndedAt))
      engines.set(id, { open: 0, lastEndedAt: at });
    for (const stream of parsed.data.streams) {
      const fact = engines.get(stream.containerId) ?? { open: 0 };
      fact.open++;
      engines.set(stream.containerId, fact);
    }
    for (const [pool, at] of Object.entries(parsed.data.poolLastEndedAt)) pools.set(pool, at);
  } catch {
    // No state yet.
  }
  return { engines, pools };
}
