import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { z } from 'zod';
import type { Clock } from '../../state/clock.js';
import { ApiError } from '../http/server.js';
import type { Logger } from '../observability/logger.js';

// The stream registry's disk: a snapshot (streams.json, what `plan` reads) and an append-only journal
// (streams.journal, one JSON line per change). A change is written and fsynced before memory changes,
// so memory never holds what the disk does not; the journal is folded into a new snapshot (written
// aside, fsynced, renamed, directory fsynced) once it holds more entries than there are streams.

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

/** One open stream. */
export type StreamRecord = Readonly<z.output<typeof StreamRecordSchema>>;

const StateFileSchema = z.object({
  version: z.literal(1),
  streams: z.array(StreamRecordSchema),
  engineLastEndedAt: z.record(z.string(), z.number()),
  poolLastEndedAt: z.record(z.string(), z.number()),
});

const JournalEntrySchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('start'), stream: StreamRecordSchema }),
  z.object({
    op: z.literal('end'),
    ids: z.array(z.string()),
    at: z.number(),
    prune: z.array(z.string()).optional(),
  }),
]);

/** One change: a stream started (or moved, or updated), or streams ended and engines forgotten. */
export type JournalEntry = z.output<typeof JournalEntrySchema>;

/** The registry's state in memory. */
export interface StreamState {
  readonly streams: Map<string, StreamRecord>;
  readonly engineLastEndedAt: Map<string, number>;
  readonly poolLastEndedAt: Map<string, number>;
}

/** An empty state. */
export function emptyState(): StreamState {
  return { streams: new Map(), engineLastEndedAt: new Map(), poolLastEndedAt: new Map() };
}

/** Applies one change to a state: the same code replays the journal and changes memory live. */
export function applyEntry(state: StreamState, entry: JournalEntry): void {
  const ended = (stream: StreamRecord, at: number) => {
    state.streams.delete(stream.id);
    state.engineLastEndedAt.set(stream.containerId, at);
    state.poolLastEndedAt.set(stream.pool, at);
  };
  if (entry.op === 'start') {
    const existing = state.streams.get(entry.stream.id);
    if (existing && existing.containerId !== entry.stream.containerId)
      ended(existing, entry.stream.startedAt);
    state.streams.set(entry.stream.id, entry.stream);
    return;
  }
  for (const id of entry.ids) {
    const stream = state.streams.get(id);
    if (stream) ended(stream, entry.at);
  }
  for (const containerId of entry.prune ?? []) state.engineLastEndedAt.delete(containerId);
}

/** A state write failed: nothing changed, in memory or on disk. Answered 503 by the API. */
export class StateWriteError extends ApiError {
  constructor(message: string) {
    super(503, 'state_write_failed', message);
  }
}

/** Refuses a state directory that cannot hold state, before anything waits on it (e.g. under /proc). */
export function prepareStateDir(stateDir: string): void {
  const absolute = resolve(stateDir);
  // Why: mkdirSync(recursive) loops forever on /proc/x (87% CPU, deaf to SIGTERM); each level is made
  // on its own, and pseudo-filesystems are refused before any is touched.
  const parts = absolute.split(sep).filter(Boolean);
  let existing: string = sep;
  for (const part of parts) {
    try {
      statSync(join(existing, part));
      existing = join(existing, part);
    } catch {
      break;
    }
  }
  const real = realpathSync(existing);
  if (/^\/(proc|sys|dev)(\/|$)/.test(real)) {
    throw new Error(
      `--state-dir ${stateDir} is on ${real.split('/')[1]}, which cannot hold files; choose a directory on a disk`,
    );
  }
  let current: string = existing;
  for (const part of absolute.slice(existing.length).split(sep).filter(Boolean)) {
    current = join(current, part);
    try {
      mkdirSync(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new Error(`cannot create the state directory ${stateDir}: ${(error as Error).message}`);
    }
  }
  if (!statSync(absolute).isDirectory()) throw new Error(`--state-dir ${stateDir} is not a directory`);
}

/** Reads a state directory's snapshot and journal without changing anything (for `plan`). */
export function readStateDir(stateDir: string): StreamState {
  const state = emptyState();
  const snapshot = StateFileSchema.safeParse(JSON.parse(readFileSync(join(stateDir, SNAPSHOT), 'utf8')));
  if (snapshot.success) loadSnapshot(state, snapshot.data);
  replay(state, readJournal(join(stateDir, JOURNAL)).entries);
  return state;
}

const SNAPSHOT = 'streams.json';
const JOURNAL = 'streams.journal';

function loadSnapshot(state: StreamState, data: z.output<typeof StateFileSchema>): void {
  for (const stream of data.streams) state.streams.set(stream.id, stream);
  for (const [id, at] of Object.entries(data.engineLastEndedAt)) state.engineLastEndedAt.set(id, at);
  for (const [pool, at] of Object.entries(data.poolLastEndedAt)) state.poolLastEndedAt.set(pool, at);
}

function replay(state: StreamState, entries: readonly JournalEntry[]): void {
  for (const entry of entries) applyEntry(state, entry);
}

/** The journal's entries up to the first line that is not one (a write cut short by a crash). */
function readJournal(path: string): { entries: JournalEntry[]; torn: boolean } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { entries: [], torn: false };
  }
  const entries: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const parsed = JournalEntrySchema.safeParse(JSON.parse(line));
      if (!parsed.success) return { entries, torn: true };
      entries.push(parsed.data);
    } catch {
      return { entries, torn: true };
    }
  }
  return { entries, torn: false };
}

/** Options of a {@link StateStore}. */
export interface StateStoreOptions {
  readonly stateDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Told after each write: whether it succeeded (metrics). */
  readonly onWrite?: (ok: boolean) => void;
}

/** The snapshot and journal of one state directory. */
export class StateStore {
  private journal?: number;
  private journalEntries = 0;
  private failure?: string;
  private readonly snapshotFile: string;
  private readonly journalFile: string;

  constructor(private readonly options: StateStoreOptions) {
    this.snapshotFile = join(options.stateDir, SNAPSHOT);
    this.journalFile = join(options.stateDir, JOURNAL);
  }

  /** The last write's error, while the latest write failed. */
  writeError(): string | undefined {
    return this.failure;
  }

  /** Loads the snapshot and replays the journal into `state`, then folds both into a new snapshot. */
  load(state: StreamState): void {
    const snapshot = this.readSnapshot();
    if (snapshot) loadSnapshot(state, snapshot);
    const { entries, torn } = readJournal(this.journalFile);
    replay(state, entries);
    if (torn)
      this.options.logger.warn(
        { file: this.journalFile },
        'the journal ends in a cut-short line; ignoring it',
      );
    if (snapshot || entries.length > 0) {
      this.options.logger.info(
        { streams: state.streams.size, file: this.snapshotFile },
        'loaded open streams',
      );
    }
    this.compact(state);
  }

  /**
   * Writes one change before memory is changed; throws {@link StateWriteError} when the disk refuses
   * it (memory must then stay as it is). Folds the journal into a snapshot of `state` first when it has
   * grown past the number of streams.
   */
  append(entry: JournalEntry, state: StreamState): void {
    if (this.journal === undefined || this.journalEntries > Math.max(64, state.streams.size))
      this.compact(state);
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    const size = fstatSync(this.journal!).size;
    try {
      let written = 0;
      while (written < line.length) written += writeSync(this.journal!, line, written);
      fsyncSync(this.journal!);
    } catch (error) {
      // Why: a line cut short would glue itself to the next one; cut the journal back to the last
      // whole entry, or start over from a snapshot when even that fails.
      try {
        ftruncateSync(this.journal!, size);
      } catch {
        this.closeJournal();
      }
      this.failed(error as Error);
    }
    this.journalEntries++;
    this.succeeded();
  }

  /** Writes `state` as the snapshot and starts an empty journal. Throws {@link StateWriteError}. */
  private compact(state: StreamState): void {
    const data = {
      version: 1,
      streams: [...state.streams.values()],
      engineLastEndedAt: Object.fromEntries(state.engineLastEndedAt),
      poolLastEndedAt: Object.fromEntries(state.poolLastEndedAt),
    };
    const tmp = `${this.snapshotFile}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, JSON.stringify(data));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.snapshotFile);
      this.closeJournal();
      writeFileSync(this.journalFile, '');
      this.journal = openSync(this.journalFile, 'a');
      this.journalEntries = 0;
      // Why: the renames and the new journal are entries of the directory; without this fsync a
      // power cut can bring the old snapshot back next to an empty journal.
      fsyncDir(this.options.stateDir);
    } catch (error) {
      this.closeJournal();
      this.failed(error as Error);
    }
  }

  private readSnapshot(): z.output<typeof StateFileSchema> | undefined {
    let text: string;
    try {
      text = readFileSync(this.snapshotFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.setAside(`cannot read it: ${(error as Error).message}`);
      return undefined;
    }
    let parsed: ReturnType<typeof StateFileSchema.safeParse>;
    try {
      parsed = StateFileSchema.safeParse(JSON.parse(text));
    } catch (error) {
      this.setAside(`not JSON: ${(error as Error).message}`);
      return undefined;
    }
    if (!parsed.success) {
      this.setAside(z.prettifyError(parsed.error));
      return undefined;
    }
    return parsed.data;
  }

  private setAside(why: string): void {
    const aside = `${this.snapshotFile}.corrupt-${this.options.clock.now()}`;
    try {
      renameSync(this.snapshotFile, aside);
    } catch {
      // If it cannot even be moved, the next snapshot replaces it.
    }
    this.options.logger.warn(
      { file: this.snapshotFile, movedTo: aside, reason: why },
      'the streams file is unreadable; set it aside and starting with no streams',
    );
  }

  private closeJournal(): void {
    if (this.journal === undefined) return;
    try {
      closeSync(this.journal);
    } catch {
      // Already unusable.
    }
    this.journal = undefined;
  }

  private failed(error: Error): never {
    const message = `cannot write the stream state in ${this.options.stateDir}: ${error.message}`;
    if (this.failure === undefined) this.options.logger.error({ err: error.message }, message);
    this.failure = message;
    this.options.onWrite?.(false);
    throw new StateWriteError(`${message}; nothing changed`);
  }

  private succeeded(): void {
    if (this.failure !== undefined) this.options.logger.info('the stream state is written again');
    this.failure = undefined;
    this.options.onWrite?.(true);
  }

  /** Closes the journal. */
  close(): void {
    this.closeJournal();
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
