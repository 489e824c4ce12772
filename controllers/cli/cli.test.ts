import { describe, expect, it } from 'vitest';
import { main } from './cli.js';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the CLI', () => {
  it.each(['run', 'validate', 'plan', 'status', 'doctor', 'schema', 'import-env'])(
    'answers `%s --help` with its own usage and exit 0',
    async (command) => {
      const result = await cli(command, '--help');
      expect(result).toMatchObject({ code: 0, err: '' });
      expect(result.out).toMatch(new RegExp(`^Usage: enginepool ${command}\\b`));
    },
  );

  it('prints its version', async () => {
    const result = await cli('--version');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^enginepool \d+\.\d+\.\d+/);
  });

  it('lists every command and every environment variable it reads in the overview', async () => {
    const result = await cli('--help');
    expect(result.code).toBe(0);
    for (const word of [
      'run',
      'validate',
      'plan',
      'status',
      'doctor',
      'schema',
      'DOCKER_HOST',
      'ENGINEPOOL_API_TOKEN',
      'ENGINEPOOL_API_TOKEN_FILE',
      'ENGINEPOOL_API_READ_TOKEN',
      'ENGINEPOOL_ENGINE_HOST',
      'ENGINEPOOL_RESYNC_SECONDS',
      'ENGINEPOOL_STREAM_CHECK_SECONDS',
      'ENGINEPOOL_URL',
      'ENGINEPOOL_API_TOKEN_FILE',
      'ENGINEPOOL_API_READ_TOKEN',
      'ENGINEPOOL_REVISION',
      'XDG_RUNTIME_DIR',
      'LOG_LEVEL',
      'LOG_FORMAT',
    ])
      expect(result.out).toContain(word);
  });

  it.each([
    [['run'], /--config is required/],
    [['run', '--config', 'x.yaml', '--bogus'], /Unknown option '--bogus'/],
    [['validate'], /missing argument/],
    [['validate', 'a.yaml', 'b.yaml'], /unexpected argument "b.yaml"/],
    [['status', '-o', 'yaml'], /-o expects "table" or "json", got "yaml"/],
    [['plan', '--config'], /argument missing/],
    [['schema', 'extra'], /unexpected argument "extra"/],
  ])('refuses %j with exit 2, the reason and the command usage', async (argv, reason) => {
    const result = await cli(...argv);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(reason);
    expect(result.err).toContain(`Usage: enginepool ${argv[0]}`);
  });

  it('refuses an unknown command with the overview', async () => {
    const result = await cli('frobnicate');
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/unknown command "frobnicate"[\s\S]*Commands:/);
  });
});
