import { enginePoolJsonSchema } from '../../../state/schema.js';
import type { Command } from '../command.js';

export const schema: Command = {
  name: 'schema',
  usage: `Usage: enginepool schema

Prints the JSON Schema (draft-07) of the desired-state file on stdout, for editors' completion and checks.`,
  options: {},
  run: async (_parsed, io) => {
    io.out(JSON.stringify(enginePoolJsonSchema(), null, 2));
    return 0;
  },
};
