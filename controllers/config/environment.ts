// The controller's settings that come from its command line and environment (the file's come through
// SpecSource): parsed and checked once, at start.

/** Parses ENGINEPOOL_STREAM_CHECK_SECONDS: how often open streams are checked against their engines. */
export function parseCheckSeconds(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 10;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600)
    throw new Error(`ENGINEPOOL_STREAM_CHECK_SECONDS expects seconds between 0.1 and 3600, got "${text}"`);
  return seconds;
}

/** Parses `HOST:PORT` (or `:PORT`, or `PORT`). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new Error(`--listen expects HOST:PORT, got "${text}"`);
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host || '0.0.0.0', port };
}

/** ENGINEPOOL_RESYNC_SECONDS: the longest time between two passes (default 10). */
export function resyncSeconds(env: Readonly<Record<string, string | undefined>>): number {
  const value = Number(env.ENGINEPOOL_RESYNC_SECONDS ?? 10);
  return Number.isFinite(value) && value >= 0.5 ? value : 10;
}
