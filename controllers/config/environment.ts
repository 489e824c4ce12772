// The controller's settings that come from its command line and environment (the file's come through
// SpecSource): parsed and checked once, at start.

/** Parses a duration variable: 10 when unset, else seconds within [min, 3600]; throws otherwise. */
function parseSeconds(name: string, text: string | undefined, min: number): number {
  if (text === undefined || text.trim() === '') return 10;
  const seconds = Number(text);
  // Why: Node fires a timeout above 2^31 ms at once; an unbounded value would be a hot loop.
  if (!Number.isFinite(seconds) || seconds < min || seconds > 3600)
    throw new Error(`${name} expects seconds between ${min} and 3600, got "${text}"`);
  return seconds;
}

/** Parses ENGINEPOOL_STREAM_CHECK_SECONDS: how often open streams are checked against their engines. */
export function parseCheckSeconds(text: string | undefined): number {
  return parseSeconds('ENGINEPOOL_STREAM_CHECK_SECONDS', text, 0.1);
}

/** Parses `HOST:PORT` (or `:PORT`, or `PORT`). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new Error(`--listen expects HOST:PORT, got "${text}"`);
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  // Why: the API shows stream keys and session URLs; a bare port listens on the loopback only, and
  // exposing it is a choice (the container image passes 0.0.0.0:8000 on purpose).
  return { host: host || '127.0.0.1', port };
}

/** Parses ENGINEPOOL_RESYNC_SECONDS: the longest time between two passes (default 10). */
export function parseResyncSeconds(text: string | undefined): number {
  return parseSeconds('ENGINEPOOL_RESYNC_SECONDS', text, 0.5);
}
