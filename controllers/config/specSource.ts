import { createHash } from 'node:crypto';
import { closeSync, type FSWatcher, fstatSync, openSync, readSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Clock, TimerHandle } from '../../state/clock.js';
import {
  type DesiredSpec,
  formatIssues,
  MAX_SPEC_BYTES,
  oversizeIssue,
  parseSpec,
  type SpecIssue,
  type SpecResult,
} from '../../state/spec/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

// Reads and watches the desired-state file. Editors save by writing a new file and renaming it over
// the old one, so the directory is watched, not the file; events are debounced and the content hash
// decides whether anything changed. A bad edit keeps the last valid spec and is reported once.

/** The last valid spec, and the problem with the file if the latest version is not valid. */
export interface SpecState {
  readonly spec?: DesiredSpec;
  /** Generation per pool: 1 when first seen, +1 on every change of its document. */
  readonly generations: ReadonlyMap<string, number>;
  /** Set while the file on disk is not valid (the controller runs on the last valid spec meanwhile). */
  readonly error?: { readonly message: string; readonly issues: readonly SpecIssue[] };
  /** When the file was last read with a change of content (ms). */
  readonly reloadedAt?: number;
}

/** Options of a {@link SpecSource}. */
export interface SpecSourceOptions {
  readonly path: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Called after a load that changed the spec or its validity. */
  readonly onChange?: (state: SpecState) => void;
  readonly debounceMs?: number;
  /** A re-read on this period catches changes that file events miss (network filesystems). */
  readonly pollMs?: number;
  /** The parser (tests count its calls); {@link parseSpec} by default. */
  readonly parse?: typeof parseSpec;
}

/** The raw bytes of the file, or the problem reading it; never more than {@link MAX_SPEC_BYTES}. */
export function readSpecBytes(path: string): { bytes: Buffer } | { issue: SpecIssue } {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const { size } = fstatSync(fd);
    // Why: the size is checked before reading, so a huge file costs one stat, not its bytes in memory.
    if (size > MAX_SPEC_BYTES) return { issue: oversizeIssue(size) };
    const bytes = Buffer.alloc(MAX_SPEC_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < bytes.length; length += n) {
      n = readSync(fd, bytes, length, bytes.length - length, null);
    }
    if (length > MAX_SPEC_BYTES) return { issue: oversizeIssue(length) };
    return { bytes: bytes.subarray(0, length) };
  } catch (error) {
    return { issue: { document: 1, path: '', message: `cannot read the file: ${(error as Error).message}` } };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads the file and reports one result, for `validate` and `plan`. */
export function readSpecFile(path: string, env: SpecSourceOptions['env']) {
  const read = readSpecBytes(path);
  if ('issue' in read) return { text: undefined, result: { ok: false, issues: [read.issue] } as const };
  const text = read.bytes.toString('utf8');
  return { text, result: parseSpec(text, { env }) };
}

/** The desired-state file, kept current. */
export class SpecSource {
  private state: SpecState = { generations: new Map() };
  private lastHash?: string;
  private pools = new Map<string, { hash: string; generation: number }>();
  private watcher?: FSWatcher;
  private debounce?: TimerHandle;
  private poll?: TimerHandle;
  private readonly path: string;

  constructor(private readonly options: SpecSourceOptions) {
    this.path = resolve(options.path);
  }

  /** The current state: the last valid spec and any problem with the file on disk. */
  current(): SpecState {
    return this.state;
  }

  /** Reads the file now. Returns whether anything changed. */
  reload(why: string): boolean {
    const read = readSpecBytes(this.path);
    // Why: the hash is of the raw bytes and taken before any parse, so an unchanged file (re-read every
    // pollMs) costs one read and one hash, never a parse.
    const hash = createHash('sha256')
      .update('issue' in read ? `unreadable:${read.issue.message}` : read.bytes)
      .digest('hex');
    if (hash === this.lastHash) return false;
    this.lastHash = hash;
    const parse = this.options.parse ?? parseSpec;
    const result: SpecResult =
      'issue' in read
        ? { ok: false, issues: [read.issue] }
        : parse(read.bytes.toString('utf8'), { env: this.options.env });
    const now = this.options.clock.now();
    const { logger, metrics } = this.options;
    if (!result.ok) {
      const message = formatIssues(this.path, result.issues);
      this.state = { ...this.state, error: { message, issues: result.issues }, reloadedAt: now };
      metrics?.configReload(false, now);
      logger.error(
        {
          file: this.path,
          why,
          issues: result.issues.length,
          keeping: this.state.spec ? 'the last valid spec' : 'nothing (no valid spec yet)',
        },
        `the desired-state file is invalid; nothing changes until it is fixed:\n${message}`,
      );
    } else {
      const generations = new Map<string, number>();
      const pools = new Map<string, { hash: string; generation: number }>();
      for (const pool of result.spec.pools) {
        const previous = this.pools.get(pool.name);
        const generation = !previous
          ? 1
          : previous.hash === pool.documentHash
            ? previous.generation
            : previous.generation + 1;
        pools.set(pool.name, { hash: pool.documentHash, generation });
        generations.set(pool.name, generation);
      }
      this.pools = pools;
      this.state = { spec: result.spec, generations, reloadedAt: now };
      metrics?.configReload(true, now);
      logger.info(
        { file: this.path, why, pools: result.spec.pools.map((p) => p.name) },
        'loaded the desired-state file',
      );
    }
    this.options.onChange?.(this.state);
    return true;
  }

  /** Watches the file's directory (and polls as a fallback) until {@link close}. */
  watch(): void {
    const file = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        // Why: symlink swaps (Kubernetes ConfigMaps) change another name; the hash tells what changed.
        if (name === null || name === file || name.startsWith('..')) this.schedule('file changed');
      });
      this.watcher.on('error', (error) =>
        this.options.logger.warn({ err: error }, 'watching the file failed; polling only'),
      );
    } catch (error) {
      this.options.logger.warn({ err: error }, 'cannot watch the directory of the file; polling only');
    }
    this.schedulePoll();
  }

  private schedule(why: string): void {
    const { clock } = this.options;
    if (this.debounce !== undefined) clock.clearTimeout(this.debounce);
    // Why 20 ms: an editor's rename is one event, and an in-place write of a small file is a truncate
    // and a write microseconds apart; the quiet window only has to outlast that. At 50 ms it was ~1.6%
    // of a 0 -> 20 ramp (docs/benchmarking.md).
    this.debounce = clock.setTimeout(() => {
      this.debounce = undefined;
      this.reload(why);
    }, this.options.debounceMs ?? 20);
  }

  private schedulePoll(): void {
    this.poll = this.options.clock.setTimeout(() => {
      this.reload('periodic check');
      this.schedulePoll();
    }, this.options.pollMs ?? 5_000);
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close();
    const { clock } = this.options;
    if (this.debounce !== undefined) clock.clearTimeout(this.debounce);
    if (this.poll !== undefined) clock.clearTimeout(this.poll);
  }
}
