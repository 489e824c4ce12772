import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// Before the integration tests: a Docker engine must answer, the controller must be built and the
// stand-in images must exist. `npm test` (scripts/test.sh) arranges all three; this checks them and
// says what to run when they are missing.
export default function setup(): void {
  const root = resolve(import.meta.dirname, '..', '..');
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'Docker does not answer: run `npm test` (it starts dockerd), or scripts/ensure-docker.sh',
    );
  }
  if (!existsSync(resolve(root, 'dist/controllers/cli/cli.js'))) {
    throw new Error('the controller is not built: run `npm run build`');
  }
  execFileSync('bash', [resolve(root, 'scripts/build-images.sh')], { stdio: 'inherit' });
}
