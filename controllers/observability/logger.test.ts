import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

// JSON lines with a level and a message; secrets never reach a line, wherever they sit in the fields.

function capture() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  const logger = createLogger({ level: 'trace', destination: stream });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, raw: () => chunks.join('') };
}

describe('createLogger', () => {
  it('writes one JSON object per line with a level label, a message and the pool of a child logger', () => {
    const { logger, lines } = capture();
    logger
      .child({ pool: 'ace' })
      .info({ action: 'create', reason: 'scale up' }, 'create ace-1 on port 19000');
    logger.warn('Docker event stream failed');
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'create ace-1 on port 19000',
        pool: 'ace',
        reason: 'scale up',
      }),
      expect.objectContaining({ level: 'warn', msg: 'Docker event stream failed', name: 'enginepool' }),
    ]);
  });

  it('redacts tokens and API keys at every depth a pool spec or a request puts them', () => {
    const { logger, raw, lines } = capture();
    const secret = 'S3CR3T-value';
    logger.info({ token: secret, apiKey: secret }, 'top level');
    logger.info({ gluetun: { apiKey: secret }, request: { token: secret } }, 'one level down');
    logger.info({ vpn: { gluetun: { apiKey: secret } } }, 'two levels down');
    logger.info({ pool: { vpn: { gluetun: { apiKey: secret } } } }, 'a whole pool spec');
    logger.info({ headers: { authorization: `Bearer ${secret}`, 'x-api-key': secret } }, 'request headers');
    expect(raw()).not.toContain(secret);
    expect(lines()).toHaveLength(5);
    expect(lines()[3]).toMatchObject({ pool: { vpn: { gluetun: { apiKey: '[redacted]' } } } });
  });
});
