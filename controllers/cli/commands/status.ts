import { type Command, optional, outputFormat, outputOption } from '../command.js';
import { renderStatus } from '../statusTable.js';
import { watchStatus } from '../statusWatch.js';

export const status: Command = {
  name: 'status',
  usage: `Usage: enginepool status [--url URL] [-o table|json] [--watch]

Asks a running controller for its pools, engines and conditions. Exit 0, or 2 when it cannot be reached.
With --watch, shows what the status page at / shows and redraws it whenever it changes, until Ctrl-C.

Options:
  --url URL            the controller's API (default $ENGINEPOOL_URL, else http://127.0.0.1:8000)
  -o, --output FORMAT  table (default) or json
  -w, --watch          follow the controller's status live`,
  options: { url: { type: 'string' }, ...outputOption, watch: { type: 'boolean', short: 'w' } },
  run: async (parsed, io) => {
    const url = optional(parsed, 'url') ?? process.env.ENGINEPOOL_URL ?? 'http://127.0.0.1:8000';
    if (parsed.values.watch === true)
      return await watchStatus({ url, io, clear: process.stdout.isTTY === true });
    return await renderStatus(url, outputFormat(parsed), io);
  },
};
