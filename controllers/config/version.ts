import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// The version of enginepool itself: package.json's, found by walking up from this file (it runs from
// controllers/ under vitest and from the bundle in dist/ when built).

/** enginepool's version, e.g. `0.1.0`. */
export function packageVersion(): string {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'enginepool' && pkg.version) return pkg.version;
  }
  return 'unknown';
}
