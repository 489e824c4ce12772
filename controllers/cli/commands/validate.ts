import { formatIssues } from '../../../state/spec/index.js';
import { readSpecFile } from '../../config/specSource.js';
import type { Command } from '../command.js';

export const validate: Command = {
  name: 'validate',
  usage: `Usage: enginepool validate FILE

Parses and checks FILE without Docker: every problem with its file:line:column and YAML path.
Exit 0 valid, 1 invalid, 2 usage error.`,
  options: {},
  positionals: { min: 1, max: 1 },
  run: async ({ positionals }, io) => {
    const file = positionals[0]!;
    const { result } = readSpecFile(file, process.env);
    if (!result.ok) {
      io.err(formatIssues(file, result.issues));
      const count = result.issues.length;
      io.err(`${file}: invalid (${count} ${count === 1 ? 'problem' : 'problems'})`);
      return 1;
    }
    const { pools } = result.spec;
    io.out(
      `${file}: valid (${pools.length} ${pools.length === 1 ? 'pool' : 'pools'}: ${pools.map((p) => p.name).join(', ')})`,
    );
    return 0;
  },
};
