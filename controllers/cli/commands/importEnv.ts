import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { parseDotenv, poolsFromEnv } from '../importEnv.js';

export const importEnv: Command = {
  name: 'import-env',
  usage: `Usage: enginepool import-env FILE

Reads acestream-orchestrator's settings (its .env: MIN_REPLICAS, MAX_REPLICAS, GLUETUN_CONTAINER_NAME,
...) and prints an equivalent pools file on stdout, with a comment for each setting it mapped and for
each it could not (and why). Secrets (API_KEY) are never copied. See docs/migrating.md.
  enginepool import-env .env > pools/pools.yaml && enginepool validate pools/pools.yaml
Exit 0, 1 unreadable file, 2 usage error.`,
  options: {},
  positionals: { min: 1, max: 1 },
  run: async ({ positionals }, io) => {
    const file = positionals[0]!;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      io.err(`${file}: cannot read it: ${(error as Error).message}`);
      return 1;
    }
    io.out(poolsFromEnv(parseDotenv(text), file).yaml.trimEnd());
    return 0;
  },
};
