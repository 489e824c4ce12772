import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { ControllerProcess } from '../test/support/harness.js';

// What the bench files share about the machine and processes: the port block, /proc readings, and the
// description of the machine that docs/benchmarks.json records next to the figures.

/** Sleeps; only to hold a measuring window open, never to wait for logic. */
export const sleep = (msToWait: number) => new Promise((resolve) => setTimeout(resolve, msToWait));

/** The first of the 1,000 host ports the benchmarks may use (BENCH_PORT_BASE, default 23000). */
export function portBase(): number {
  return Number(process.env.BENCH_PORT_BASE ?? 23000);
}

/** CPU time (user + system, in clock ticks of 10 ms) and memory of a process, from /proc. */
export function processUsage(pid: number): { cpuTicks: number; rssKiB: number; hwmKiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  // Why: after ")" the fields start at stat's 3rd; utime and stime are the 14th and 15th.
  return { cpuTicks: Number(fields[11]) + Number(fields[12]), rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/** The machine a run measured: CPUs, memory, load when it started, Node and Docker versions. */
export function describeMachine(): Record<string, unknown> {
  const dockerVersion = (() => {
    try {
      return execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
        encoding: 'utf8',
      }).trim();
    } catch {
      return undefined;
    }
  })();
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    docker: dockerVersion,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  };
}

/**
 * Runs `body` against a benchmark's controller, then `cleanUp` (stop it, remove its containers), also
 * on Ctrl-C or SIGTERM (after `onInterrupt`, exiting 130); saves its log to BENCH_LOG_FILE when set.
 */
export async function withController(
  ctl: ControllerProcess,
  cleanUp: () => Promise<void>,
  body: () => Promise<void>,
  onInterrupt: () => void = () => {},
): Promise<void> {
  const interrupted = () => {
    onInterrupt();
    void cleanUp().finally(() => {
      rmSync(ctl.dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await body();
  } finally {
    if (process.env.BENCH_LOG_FILE) writeFileSync(process.env.BENCH_LOG_FILE, ctl.logs);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await cleanUp();
    rmSync(ctl.dir, { recursive: true, force: true });
  }
}
