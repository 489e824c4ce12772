import { runController } from '../../main.js';
import { type Command, optional, required } from '../command.js';

export const run: Command = {
  name: 'run',
  usage: `Usage: enginepool run --config FILE [--listen HOST:PORT] [--state-dir DIR]

Keeps every pool of FILE converged with Docker until SIGTERM/SIGINT (exit 0; the engines keep running
and the next start adopts them).

Options:
  --config FILE        the desired-state file (watched; a bad edit keeps the last valid spec)
  --listen HOST:PORT   the HTTP API (default 127.0.0.1:8000; the container image listens on 0.0.0.0:8000)
  --state-dir DIR      streams and the lock (default $XDG_STATE_HOME/enginepool/<file>-<hash>)`,
  options: { config: { type: 'string' }, listen: { type: 'string' }, 'state-dir': { type: 'string' } },
  run: async (parsed) => {
    const stateDir = optional(parsed, 'state-dir');
    return await runController({
      config: required(parsed, 'config'),
      listen: optional(parsed, 'listen') ?? '127.0.0.1:8000',
      ...(stateDir ? { stateDir } : {}),
      env: process.env,
    });
  },
};
