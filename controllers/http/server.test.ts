import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { readApiTokens } from '../config/apiToken.js';
import { createLogger, silentLogger } from '../observability/logger.js';
import { createHttpServer, type HttpOptions, type Route } from './server.js';

// Issue 12: the server holds nothing for a slow or greedy client, reads that show streams need a
// token, parameters are decoded after matching, refused tokens are logged at info, rate-limited.

const TOKEN = 'hostile-token-0123456789';
const READ_TOKEN = 'hostile-read-0123456789';

const routes: Route[] = [
  { method: 'GET', path: '/livez', handle: () => ({ status: 200, body: { status: 'ok' } }) },
  { method: 'GET', path: '/streams', sensitive: true, handle: () => ({ status: 200, body: [] }) },
  {
    method: 'DELETE',
    path: '/streams/:id',
    mutating: true,
    handle: ({ params }) => ({ status: 200, body: { id: params.id } }),
  },
  { method: 'POST', path: '/echo', handle: ({ body }) => ({ status: 200, body }) },
];

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

async function start(options: Partial<HttpOptions> = {}): Promise<string> {
  const server = createHttpServer({ routes, token: TOKEN, logger: silentLogger(), ...options });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Opens a raw connection, writes `text`, and resolves with the ms until the server closes it. */
function heldFor(address: string, text: string): Promise<{ ms: number; answer: string }> {
  const [host, port] = address.split(':') as [string, string];
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), host, () => socket.write(text));
    sockets.push(socket);
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ ms: performance.now() - started, answer }));
  });
}

const get = (address: string, path: string, token?: string, method = 'GET') =>
  fetch(`http://${address}${path}`, {
    method,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });

describe('a hardened server', () => {
  it('drops a client that never finishes its headers (slowloris)', async () => {
    const address = await start({ limits: { headersTimeoutMs: 300 } });
    const { ms } = await heldFor(address, 'GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(ms).toBeLessThan(5_000);
  });

  it('drops a client that never finishes its body', async () => {
    const address = await start({ limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const { ms, answer } = await heldFor(
      address,
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    expect(ms).toBeLessThan(5_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('refuses connections above the cap and keeps serving the others', async () => {
    const address = await start({ limits: { maxConnections: 3 } });
    const [host, port] = address.split(':') as [string, string];
    const open = await Promise.all(
      Array.from(
        { length: 3 },
        () =>
          new Promise<Socket>((resolve) => {
            const socket = connect(Number(port), host, () => resolve(socket));
            sockets.push(socket);
          }),
      ),
    );
    const server = servers.at(-1)!;
    const connections = () => new Promise<number>((done) => server.getConnections((_, n) => done(n)));
    await expect.poll(connections, { timeout: 5_000 }).toBe(3);
    const refused = await heldFor(address, 'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(refused.answer).toBe('');
    for (const socket of open) socket.destroy();
    await expect.poll(connections, { timeout: 5_000 }).toBe(0);
    const served = await heldFor(address, 'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(served.answer).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('who may read and change', () => {
  it('needs the token or the read token for sensitive reads, and only the token for changes', async () => {
    const address = await start({ readToken: READ_TOKEN });
    expect((await get(address, '/livez')).status).toBe(200);
    expect((await get(address, '/streams')).status).toBe(401);
    expect((await get(address, '/streams', 'wrong')).status).toBe(401);
    expect((await get(address, '/streams', READ_TOKEN)).status).toBe(200);
    expect((await get(address, '/streams', TOKEN)).status).toBe(200);
    expect((await get(address, '/streams/x', READ_TOKEN, 'DELETE')).status).toBe(401);
    expect((await get(address, '/streams/x', TOKEN, 'DELETE')).status).toBe(200);
  });

  it('answers 403 for sensitive reads when no token is configured', async () => {
    const address = await start({ token: undefined });
    const reply = await get(address, '/streams');
    expect(reply.status).toBe(403);
    expect(((await reply.json()) as { error: { message: string } }).error.message).toMatch(
      /^reads of streams and the VPN through the API are disabled/,
    );
  });

  it('matches parameters on raw segments: an id holding "/" can be ended', async () => {
    const address = await start();
    const reply = await get(address, `/streams/${encodeURIComponent('ch/42')}`, TOKEN, 'DELETE');
    expect(reply.status).toBe(200);
    expect(await reply.json()).toEqual({ id: 'ch/42' });
    expect((await get(address, '/streams/%E0%A4%A', TOKEN, 'DELETE')).status).toBe(400);
  });

  it('logs refused tokens at info, once a minute with the count of the others', async () => {
    const lines: { level: string; msg: string; suppressed?: number }[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    let now = 0;
    const address = await start({ logger: createLogger({ destination }), now: () => now });
    for (let i = 0; i < 5; i++) await get(address, '/streams', `wrong-${i}`);
    now = 61_000;
    await get(address, '/streams/x', 'wrong', 'DELETE');
    const refused = lines.filter((line) => line.msg === 'refused a request without a valid token');
    expect(refused.map((line) => [line.level, line.suppressed])).toEqual([
      ['info', 0],
      ['info', 4],
    ]);
    expect(JSON.stringify(lines)).not.toContain('wrong-');
  });
});

describe('readApiTokens', () => {
  it('trims the token and warns about a short one', () => {
    const tokens = readApiTokens({ ENGINEPOOL_API_TOKEN: 'abc\n' });
    expect(tokens.token).toBe('abc');
    expect(tokens.warnings).toEqual([
      'ENGINEPOOL_API_TOKEN has 3 characters: use at least 16 random ones (openssl rand -hex 32)',
    ]);
  });

  it('reads ENGINEPOOL_API_TOKEN_FILE (Docker secrets) and refuses both forms at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-token-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, `${TOKEN}\n`);
      expect(readApiTokens({ ENGINEPOOL_API_TOKEN_FILE: file })).toEqual({ token: TOKEN, warnings: [] });
      expect(() => readApiTokens({ ENGINEPOOL_API_TOKEN_FILE: file, ENGINEPOOL_API_TOKEN: TOKEN })).toThrow(
        'set ENGINEPOOL_API_TOKEN or ENGINEPOOL_API_TOKEN_FILE, not both',
      );
      expect(() => readApiTokens({ ENGINEPOOL_API_TOKEN_FILE: join(dir, 'missing') })).toThrow(
        /^cannot read ENGINEPOOL_API_TOKEN_FILE/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
