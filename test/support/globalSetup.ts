import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// Before the integration tests: a Docker engine must answer, the controller must be built and the
// stand-in images must exist. `npm test` (scripts/test.sh) arranges all three; this checks them and
// says what to run when they are missing. Then it removes what an earlier run left behind (a killed
// run leaves its engines and stand-in VPNs): every container made from a stand-in image, which carries
// the images' io.enginepool.test.content-hash label. Those are test fixtures only (the demo's and the
// benchmark's engines included); a user's real engines are never made from them.
export default async function setup(): Promise<void> {
  const root = resolve(import.meta.dirname, '..', '..');
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'Docker does not answer: run `npm test` (it starts dockerd), or scripts/ensure-docker.sh',
    );
  }
  if (!existsSync(resolve(root, 'dist/cli.js'))) {
    throw new Error('the controller is not built: run `npm run build`');
  }
  execFileSync('bash', [resolve(root, 'scripts/build-images.sh')], { stdio: 'inherit' });
  const { docker, removeAll } = await import('./harness.js');
  const leftovers = await docker.listContainers({
    all: true,
    filters: { label: ['io.enginepool.test.content-hash'] },
  });
  if (leftovers.length > 0) {
    console.log(
      `removing ${leftovers.length} stand-in container(s) an earlier run left: ${leftovers.map((c) => c.Names[0]?.slice(1)).join(' ')}`,
    );
    await removeAll(leftovers.map((c) => c.Id));
  }
}
