import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';

// A headless Chromium for the status page's tests: Debian's `chromium` (scripts/ensure-chromium.sh
// installs it when missing), driven by playwright-core, which downloads no browser of its own.

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Where browser tests keep screenshots and measurements (gitignored). */
export function artifactsDir(name: string): string {
  const dir = join(ROOT, 'test-artifacts', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Installs Chromium if needed and launches it headless. */
export async function launchChromium(): Promise<Browser> {
  const { stdout } = await promisify(execFile)('bash', [join(ROOT, 'scripts', 'ensure-chromium.sh')]);
  const executablePath = stdout.trim().split('\n').at(-1)!;
  // Why --no-sandbox: the suite runs as root in CI, where Chromium refuses its sandbox.
  return await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}
