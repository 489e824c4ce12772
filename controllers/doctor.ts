import { formatIssues } from '../state/spec.js';
import { createDockerPort } from './docker.js';
import { readSpecFile } from './specSource.js';

// `enginepool doctor`: the troubleshooting guide as a command. Each finding says what to do.

/** One check's result. */
export interface Finding {
  readonly ok: boolean;
  readonly check: string;
  readonly detail: string;
  /** What to do about it, when it is a problem. */
  readonly fix?: string;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  readonly config: string;
  readonly stateDir?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly io: { out: (text: string) => void; err: (text: string) => void };
}

/** Runs every check and prints the findings; 0 when all are good, 1 otherwise. */
export async function runDoctor(options: DoctorOptions): Promise<number> {
  const findings: Finding[] = [];
  const { result } = readSpecFile(options.config, options.env);
  findings.push(
    result.ok
      ? { ok: true, check: 'file', detail: `${options.config} is valid` }
      : {
          ok: false,
          check: 'file',
          detail: formatIssues(options.config, result.issues),
          fix: 'fix the lines above; `enginepool validate FILE` checks the file alone',
        },
  );
  const docker = createDockerPort({ dockerHost: options.env.DOCKER_HOST, timeoutMs: 5_000 });
  try {
    const version = await docker.version();
    findings.push({
      ok: true,
      check: 'docker',
      detail: `Docker ${version.version} (API ${version.apiVersion}) answers`,
    });
  } catch (error) {
    findings.push({
      ok: false,
      check: 'docker',
      detail: (error as Error).message,
      fix: 'start the Docker daemon (sudo systemctl start docker), or point DOCKER_HOST at it',
    });
  }
  for (const finding of findings) {
    const line = `${finding.ok ? 'ok  ' : 'FAIL'} ${finding.check}: ${finding.detail}`;
    if (finding.ok) options.io.out(line);
    else options.io.out(`${line}${finding.fix ? `\n     fix: ${finding.fix}` : ''}`);
  }
  return findings.every((f) => f.ok) ? 0 : 1;
}
