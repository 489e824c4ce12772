import { type Command, optional, outputFormat, outputOption } from '../command.js';
import { renderStatus } from '../statusTable.js';

export const status: Command = {
  name: 'status',
  summary: "a running controller's pools, engines and conditions",
  usage: `Usage: enginepool status [--url URL] [-o table|json]

Asks a running controller for its pools, engines and conditions. Exit 0, or 2 when it cannot be reached.

Options:
  --url URL            the controller's API (default $ENGINEPOOL_URL, else http://127.0.0.1:8000)
  -o, --output FORMAT  table (default) or json`,
  options: { url: { type: 'string' }, ...outputOption },
  run: async (parsed, io) =>
    await renderStatus(
      optional(parsed, 'url') ?? process.env.ENGINEPOOL_URL ?? 'http://127.0.0.1:8000',
      outputFormat(parsed),
      io,
    ),
};
