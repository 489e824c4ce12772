import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../state/clock.js';
import { silentLogger } from '../observability/logger.js';
import { StreamLimitError, StreamRegistry, type StreamTarget } from './registry.js';
import { prepareStateDir, StateWriteError } from './stateStore.js';

// Issue 12: the registry writes first and changes memory after, fsyncs, appends one line per change
// instead of rewriting everything, bounds what it keeps, and refuses a state dir that cannot be one.

const engine = (n: number): StreamTarget => ({
  pool: 'hostile-store',
  containerId: `c${n}`,
  engine: `hostile-store-${n}`,
});
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-store-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function registry(stateDir: string, onWrite?: (ok: boolean) => void): StreamRegistry {
  const r = new StreamRegistry({
    stateDir,
    clock: systemClock,
    logger: silentLogger(),
    ...(onWrite ? { onWrite } : {}),
  });
  r.open();
  cleanups.push(() => r.close());
  return r;
}

/** A 1 MiB tmpfs of our own (we are root in CI's containers; elsewhere the test says so and skips). */
function smallDisk(): string | undefined {
  const dir = tempDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  cleanups.push(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

const canMount = process.getuid?.() === 0;

describe('a full disk', () => {
  it.skipIf(!canMount)(
    'refuses the change, keeps memory as the disk has it, and says so until a write succeeds',
    () => {
      const disk = smallDisk()!;
      const stateDir = join(disk, 'state');
      const writes: boolean[] = [];
      const r = registry(stateDir, (ok) => writes.push(ok));
      r.start(engine(1), 'kept');
      r.start(engine(1), 'ended-later');
      // Pad the journal to a page boundary (blank lines are skipped), so the next entry needs a new page.
      const journal = join(stateDir, 'streams.journal');
      appendFileSync(journal, '\n'.repeat(4096 - (statSync(journal).size % 4096)));
      // Fill the disk to the last byte.
      const filler = join(disk, 'filler');
      try {
        for (;;) appendFileSync(filler, Buffer.alloc(64 * 1024));
      } catch {
        for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
          try {
            for (;;) appendFileSync(filler, Buffer.alloc(size));
          } catch {}
        }
      }
      expect(() => r.end('ended-later')).toThrow(StateWriteError);
      expect(() => r.start(engine(2), 'new', { labels: { big: 'x'.repeat(2000) } })).toThrow(StateWriteError);
      expect(
        r
          .list()
          .map((s) => s.id)
          .sort(),
      ).toEqual(['ended-later', 'kept']);
      expect(r.writeError()).toMatch(/ENOSPC/);
      expect(writes.at(-1)).toBe(false);

      rmSync(filler);
      expect(r.end('ended-later')?.id).toBe('ended-later');
      expect(r.writeError()).toBeUndefined();
      expect(writes.at(-1)).toBe(true);
      r.close();
      // A restart sees exactly what was acknowledged: the ended stream does not come back.
      const again = registry(stateDir);
      expect(again.list().map((s) => s.id)).toEqual(['kept']);
    },
  );
});

describe('the journal', () => {
  it('appends one line per change, and a restart after kill -9 replays it', () => {
    const stateDir = tempDir();
    const r = registry(stateDir);
    const labels = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`label-${i}`, 'v'.repeat(1800)]));
    for (let i = 0; i < 50; i++) r.start(engine(i % 5), `s${i}`, { labels });
    const journal = join(stateDir, 'streams.journal');
    const before = statSync(journal).size;
    r.end('s0');
    const line = statSync(journal).size - before;
    expect(line).toBeLessThan(200);
    // No close: what kill -9 leaves behind.
    const again = new StreamRegistry({ stateDir, clock: systemClock, logger: silentLogger() });
    again.open();
    cleanups.push(() => again.close());
    expect(again.list()).toHaveLength(49);
    expect(again.get('s1')?.labels).toEqual(labels);
  });

  it('ignores a line cut short by a crash', () => {
    const stateDir = tempDir();
    const r = registry(stateDir);
    r.start(engine(1), 'whole');
    r.close();
    appendFileSync(join(stateDir, 'streams.journal'), '{"op":"start","stream":{"id":"cut');
    expect(
      registry(stateDir)
        .list()
        .map((s) => s.id),
    ).toEqual(['whole']);
  });

  it('folds the journal into the snapshot once it holds more entries than streams', () => {
    const stateDir = tempDir();
    const r = registry(stateDir);
    for (let i = 0; i < 100; i++) {
      r.start(engine(1), 'flapping');
      r.end('flapping');
    }
    const lines = readFileSync(join(stateDir, 'streams.journal'), 'utf8').split('\n').length;
    expect(lines).toBeLessThan(100);
  });
});

describe('limits', () => {
  it('bounds streams per engine, in total, and labels per stream', () => {
    const r = new StreamRegistry({
      clock: systemClock,
      logger: silentLogger(),
      limits: { streams: 3, streamsPerEngine: 2, labels: 2, valueLength: 10 },
    });
    r.start(engine(1), 'a');
    r.start(engine(1), 'b');
    expect(() => r.start(engine(1), 'c')).toThrow('hostile-store-1 has 2 open streams, the most per engine');
    r.start(engine(2), 'c');
    expect(() => r.start(engine(3), 'd')).toThrow('3 streams are open, the most the controller keeps');
    expect(() => r.start(engine(1), 'a', { labels: { x: '1', y: '2', z: '3' } })).toThrow(StreamLimitError);
    expect(() => r.start(engine(1), 'a', { statUrl: 'http://a-very-long-url/' })).toThrow(
      /at most 10 characters/,
    );
    expect(r.list()).toHaveLength(3);
  });
});

describe('the state directory', () => {
  it('refuses /proc/x at once instead of spinning', () => {
    const started = performance.now();
    expect(() => prepareStateDir('/proc/hostile/x')).toThrow('--state-dir /proc/hostile/x is on proc');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('makes missing levels, and refuses a file', () => {
    const base = tempDir();
    prepareStateDir(join(base, 'a', 'b'));
    expect(statSync(join(base, 'a', 'b')).isDirectory()).toBe(true);
    writeFileSync(join(base, 'file'), '');
    expect(() => prepareStateDir(join(base, 'file'))).toThrow('is not a directory');
    mkdirSync(join(base, 'c'));
    expect(() => prepareStateDir(join(base, 'file', 'below'))).toThrow(/cannot create the state directory/);
  });
});
