import { execFile } from 'node:child_process';

// A compose implementation, the way CI gets it: scripts/test.sh (ensure-compose.sh) installs Debian's
// docker-compose when neither `docker compose` nor `docker-compose` is there.

/** Runs `docker compose ARGS` (v2) or `docker-compose ARGS`; answers the exit code and output, never throws. */
export async function compose(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = (binary: string, argv: readonly string[]) =>
    new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve) => {
      execFile(binary, [...argv], { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
        const code = (error as { code?: number | string } | null)?.code;
        resolve({ code: code ?? (error ? 1 : 0), stdout, stderr });
      });
    });
  const v2 = await run('docker', ['compose', 'version']);
  const result =
    v2.code === 0 ? await run('docker', ['compose', ...args]) : await run('docker-compose', args);
  if (result.code === 'ENOENT')
    throw new Error('no docker compose: run the tests through `npm test`, or apt-get install docker-compose');
  return { ...result, code: typeof result.code === 'number' ? result.code : 1 };
}
