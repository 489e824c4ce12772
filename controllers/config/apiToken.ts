import { readFileSync } from 'node:fs';

// The API tokens from the environment: ENGINEPOOL_API_TOKEN (changes and reads) and
// ENGINEPOOL_API_READ_TOKEN (reads of streams and the VPN only), each also from a *_FILE (Docker
// secrets). Trimmed, so a file or an `echo` with a trailing newline still matches.

/** Tokens shorter than this are accepted with a warning: they can be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/** The tokens the API accepts, and what to warn about. */
export interface ApiTokens {
  readonly token?: string;
  readonly readToken?: string;
  readonly warnings: readonly string[];
}

/** Reads both tokens; throws with a message when a token file cannot be read or both forms are set. */
export function readApiTokens(env: Readonly<Record<string, string | undefined>>): ApiTokens {
  const warnings: string[] = [];
  const read = (name: string): string | undefined => {
    const direct = env[name];
    const file = env[`${name}_FILE`];
    if (direct && file) throw new Error(`set ${name} or ${name}_FILE, not both`);
    let value = direct;
    if (file) {
      try {
        value = readFileSync(file, 'utf8');
      } catch (error) {
        throw new Error(`cannot read ${name}_FILE: ${(error as Error).message}`);
      }
    }
    const trimmed = value?.trim();
    if (value !== undefined && trimmed === '') warnings.push(`${name} is empty: it is ignored`);
    if (!trimmed) return undefined;
    if (trimmed.length < MIN_TOKEN_LENGTH) {
      warnings.push(
        `${name} has ${trimmed.length} characters: use at least ${MIN_TOKEN_LENGTH} random ones (openssl rand -hex 32)`,
      );
    }
    return trimmed;
  };
  const token = read('ENGINEPOOL_API_TOKEN');
  const readToken = read('ENGINEPOOL_API_READ_TOKEN');
  return { ...(token ? { token } : {}), ...(readToken ? { readToken } : {}), warnings };
}
