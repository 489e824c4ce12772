import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { packageVersion } from '../config/version.js';
import { type Command, type Io, parseCommand, UsageError } from './command.js';

// `enginepool <command>` (contract §2): dispatch, `--version`, and each command's own `--help`.

/** A command's name and line in the overview, and its module, loaded only when it runs. */
interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

// Why loaded on demand: a process runs one command, and the others' imports (doctor's probes, the
// status table, the JSON Schema) would stay resident in a controller that runs for months.
const COMMANDS: readonly CommandEntry[] = [
  { name: 'run', summary: 'run the controller', load: async () => (await import('./commands/run.js')).run },
  {
    name: 'validate',
    summary: 'check a desired-state file (exit 0 valid, 1 invalid)',
    load: async () => (await import('./commands/validate.js')).validate,
  },
  {
    name: 'plan',
    summary: 'print what one reconcile would do, change nothing',
    load: async () => (await import('./commands/plan.js')).plan,
  },
  {
    name: 'status',
    summary: "a running controller's pools, engines and conditions",
    load: async () => (await import('./commands/status.js')).status,
  },
  {
    name: 'doctor',
    summary: 'check the file, Docker, images, networks, the VPN, ports and the state dir',
    load: async () => (await import('./commands/doctor.js')).doctor,
  },
  {
    name: 'schema',
    summary: 'print the JSON Schema (draft-07) of the file, for editors',
    load: async () => (await import('./commands/schema.js')).schema,
  },
  {
    name: 'import-env',
    summary: "print a pools file equivalent to acestream-orchestrator's .env",
    load: async () => (await import('./commands/importEnv.js')).importEnv,
  },
];

/** Every environment variable the code reads, for the overview. */
const ENVIRONMENT = `Environment:
  DOCKER_HOST                       the Docker (or Podman) API: unix:///path, tcp://host:port (default the local socket)
  ENGINEPOOL_API_TOKEN              the API token; without it mutating routes and sensitive reads answer 403
  ENGINEPOOL_API_TOKEN_FILE         a file holding it (Docker secrets); trimmed
  ENGINEPOOL_API_READ_TOKEN         a token for the sensitive reads only (/engines, /streams, /vpn/status)
  ENGINEPOOL_API_READ_TOKEN_FILE    a file holding it
  ENGINEPOOL_ENGINE_HOST            a host where engines' published ports answer (when the controller runs in a container)
  ENGINEPOOL_REVISION               the source revision enginepool_build_info reports (the image sets it)
  ENGINEPOOL_RESYNC_SECONDS         the longest time between two passes (default 10)
  ENGINEPOOL_STREAM_CHECK_SECONDS   how often streams are checked against their engines (default 10, 0 = never)
  ENGINEPOOL_URL                    the controller \`status\` asks (default http://127.0.0.1:8000)
  XDG_STATE_HOME, HOME              where the default state directory lives
  XDG_RUNTIME_DIR                   where doctor looks for a rootless Podman socket when Docker's is missing
  LOG_LEVEL                         trace|debug|info|warn|error (default info)
  LOG_FORMAT                        json (default) or pretty`;

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: enginepool <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'enginepool <command> --help' for a command's options; 'enginepool --version' for the version.",
    '',
    ENVIRONMENT,
  ].join('\n');
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.err(overview());
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    io.out(overview());
    return 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`enginepool ${packageVersion()}`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.err(`unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  const command = await entry.load();
  if (args.includes('--help') || args.includes('-h')) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(parseCommand(command, args), io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`enginepool ${command.name}: ${error.message}\n\n${command.usage}`);
      return 2;
    }
    io.err((error as Error).message);
    return 2;
  }
}

// Why: after a command, sockets kept alive by HTTP agents must not hold the process open.
const invokedDirectly =
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(2);
    },
  );
}
