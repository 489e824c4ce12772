import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';

// The dockerd that DOCKER_HOST names (or the default socket), found through its listening socket, so a
// disruptive test stops and starts exactly that daemon: the host's, or a private one in a network
// namespace (/work/tools/devns), never another. Linux only (/proc).

/** The socket path DOCKER_HOST names, or Docker's default. */
export function dockerSocket(dockerHost = process.env.DOCKER_HOST): string {
  if (!dockerHost) return '/var/run/docker.sock';
  if (dockerHost.startsWith('unix://')) return dockerHost.slice('unix://'.length);
  if (dockerHost.startsWith('/')) return dockerHost;
  throw new Error(
    `DOCKER_HOST=${dockerHost}: a disruptive test needs a local unix socket to find its dockerd`,
  );
}

/** A running dockerd: its pid and how it was started. */
export interface Dockerd {
  readonly pid: number;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** The process listening on `socket` (seen from this network namespace's /proc/net/unix). */
export function findDockerd(socket = dockerSocket()): Dockerd {
  // Why: /var/run is usually a link to /run; dockerd lists the path it was given.
  const paths = new Set([
    socket,
    socket.replace(/^\/var\/run\//, '/run/'),
    socket.replace(/^\/run\//, '/var/run/'),
  ]);
  const inodes = new Set(
    readFileSync('/proc/net/unix', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // Flags 00010000: listening (__SO_ACCEPTCON).
      .filter((f) => f.length >= 8 && f[3] === '00010000' && paths.has(f[7]!))
      .map((f) => `socket:[${f[6]}]`),
  );
  if (inodes.size === 0) throw new Error(`nothing listens on ${socket}`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        return inodes.has(readlinkSync(`/proc/${entry}/fd/${fd}`));
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    if (!/dockerd$/.test(argv[0] ?? '')) continue;
    const env = Object.fromEntries(
      readFileSync(`/proc/${entry}/environ`, 'utf8')
        .split('\0')
        .filter((kv) => kv.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    return { pid: Number(entry), argv, cwd: readlinkSync(`/proc/${entry}/cwd`), env };
  }
  throw new Error(`no dockerd holds ${socket}`);
}

/** True while `pid` runs (a zombie does not count). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** scripts/ensure-docker.sh's record of the dockerd it started (it stops that one at the end of `npm test`). */
const ENSURE_DOCKER_PIDFILE = '/tmp/enginepool-dockerd.pid';

/**
 * Starts dockerd again exactly as `before` was started (same arguments, directory, environment),
 * detached, in this process's network namespace. When scripts/ensure-docker.sh had started `before`,
 * its pid file names the new daemon, so `npm test` still stops what it started.
 */
export function startDockerdAgain(before: Dockerd, log = '/tmp/enginepool-dockerd-restart.log'): number {
  const out = openSync(log, 'a');
  const child = spawn(before.argv[0]!, before.argv.slice(1), {
    cwd: before.cwd,
    env: before.env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  child.unref();
  const pid = child.pid!;
  if (
    existsSync(ENSURE_DOCKER_PIDFILE) &&
    readFileSync(ENSURE_DOCKER_PIDFILE, 'utf8').trim() === String(before.pid)
  )
    writeFileSync(ENSURE_DOCKER_PIDFILE, `${pid}\n`);
  return pid;
}
