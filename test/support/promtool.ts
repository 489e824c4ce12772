import { execFile } from 'node:child_process';

// promtool (Prometheus' checker), the way CI gets it: scripts/test.sh installs Debian's `prometheus`
// package when promtool is missing. PROMTOOL may point at another binary.

/** Runs promtool with `args` (and `input` on stdin); answers its exit code and output, never throws. */
export function promtool(
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const binary = process.env.PROMTOOL ?? 'promtool';
  return new Promise((resolve, reject) => {
    const child = execFile(binary, [...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = (error as { code?: number | string } | null)?.code;
      if (code === 'ENOENT') {
        reject(
          new Error(
            `${binary} not found: run the tests through \`npm test\` (scripts/test.sh installs it), or apt-get install prometheus`,
          ),
        );
        return;
      }
      resolve({ code: typeof code === 'number' ? code : error ? 1 : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
