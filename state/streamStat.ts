// What an engine's stat URL says about a stream's playback session, and where to ask it. Pure: the
// stream watcher (controllers/streams/watcher.ts) fetches, these decide.

/** The meaning of one answer from a stat URL. */
export type StatVerdict =
  | { readonly kind: 'alive' }
  /** The engine no longer knows the session: the stream ended without anyone saying so. */
  | { readonly kind: 'ended'; readonly reason: string }
  /** Neither: a transient error, an unexpected answer. Ask again later. */
  | { readonly kind: 'inconclusive'; readonly reason: string };

// Why: AceStream engines answer 200 with the error in the JSON envelope; this exact message is the one
// sign that the session is gone (acestream-orchestrator treats it the same way).
const DEAD_SESSION = /unknown playback session id/i;

/** Judges an answer of a stat URL (HTTP status and body text). Only a dead-session answer ends a stream. */
export function judgeStat(status: number, body: string): StatVerdict {
  if (status !== 200) return { kind: 'inconclusive', reason: `HTTP ${status}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'inconclusive', reason: 'the answer is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || !('error' in parsed)) {
    return { kind: 'inconclusive', reason: 'the answer has no "error" field' };
  }
  const { error, response } = parsed as { error: unknown; response?: unknown };
  if (typeof error === 'string' && DEAD_SESSION.test(error) && response == null) {
    return { kind: 'ended', reason: `the engine answered "${error}"` };
  }
  if (error == null && response != null) return { kind: 'alive' };
  return { kind: 'inconclusive', reason: `the engine answered error ${JSON.stringify(error)}` };
}

/**
 * The stat URL aimed at the address the controller reaches the engine on. Engines put their own view
 * (often 127.0.0.1 and the port inside their namespace) in the URLs they hand out. Undefined when
 * `statUrl` is not an http(s) URL.
 */
export function statUrlFor(statUrl: string, endpoint: { host: string; port: number }): string | undefined {
  let url: URL;
  try {
    url = new URL(statUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  url.hostname = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  url.port = String(endpoint.port);
  return url.toString();
}
