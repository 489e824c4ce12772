import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ControllerProcess,
  cli,
  freePort,
  poolContainers,
  poolYaml,
  removeContainers,
  waitFor,
} from '../support/harness.js';

// The native HTTP API against the real server and real engines: auth, bodies, exact counts, 404s,
// concurrent acquires, persistence across `kill -9`, and `enginepool status`. Host ports 21000-21049.

const controllers: ControllerProcess[] = [];
const pools: string[] = [];

function controller(pool: string, yaml: string, env: Record<string, string> = {}) {
  const c = new ControllerProcess(yaml, env);
  controllers.push(c);
  pools.push(pool);
  return c;
}

async function cleanup() {
  await Promise.all(controllers.splice(0).map((c) => c.stop('SIGKILL')));
  await Promise.all(pools.splice(0).map((pool) => removeContainers({ pool })));
}

async function readyEngines(c: ControllerProcess, pool: string, count: number) {
  return await waitFor(`${count} ready engines in ${pool}`, async () => {
    const engines = await c.engines(pool);
    const ready = engines.filter((e) => e.state === 'ready');
    return ready.length >= count ? ready : undefined;
  });
}

/**
 * Sends a body of `size` bytes in chunks, without a Content-Length (so only the streaming limit
 * applies). Resolves with the answer, or with the error code when the server cut the upload before the
 * answer could be read (it closes the connection on 413).
 */
function chunkedPost(
  url: string,
  token: string,
  size: number,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    let answered = false;
    const req = request(
      url,
      { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } },
      (res) => {
        answered = true;
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered) resolve({ error: error.code ?? error.message });
    });
    const chunk = Buffer.alloc(16 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('one controller, one pool (api-a)', () => {
  const pool = 'api-a';
  let c: ControllerProcess;
  let engine: string;
  const streams = `/api/v1/pools/${pool}/engines/${pool}-1/streams`;
  const wrong = 'wrong-token-zyxwvutsrq';

  beforeAll(async () => {
    c = await controller(
      pool,
      poolYaml(pool, { range: '21000-21009', replicas: '{ minFree: 1, max: 3, scaleDownDelaySeconds: 60 }' }),
    ).start();
    [{ name: engine }] = await readyEngines(c, pool, 1);
  });
  afterAll(cleanup);

  it('answers mutating routes 401 without or with a wrong token, 2xx with it; reads are open; the token is never logged', async () => {
    const mutating: [string, string, unknown][] = [
      ['POST', streams, { id: 'auth-1' }],
      ['DELETE', `${streams}/auth-1`, undefined],
      ['POST', `/api/v1/pools/${pool}/acquire`, { id: 'auth-2' }],
      ['POST', `/api/v1/pools/${pool}/circuit-breaker/reset`, undefined],
      ['POST', '/events/stream_ended', { stream_id: 'auth-2' }],
    ];
    for (const [method, path, body] of mutating) {
      const none = await c.api(path, { method, ...(body ? { body } : {}) });
      expect([path, none.status]).toEqual([path, 401]);
      expect(none.body.error.code).toBe('unauthorized');
      const bad = await c.api(path, { method, token: wrong, ...(body ? { body } : {}) });
      expect([path, bad.status]).toEqual([path, 401]);
      const good = await c.api(path, { method, token: c.token, ...(body ? { body } : {}) });
      expect([path, good.status >= 200 && good.status < 300]).toEqual([path, true]);
    }
    for (const path of ['/livez', '/readyz', '/metrics', '/api/v1/pools', `/api/v1/pools/${pool}/engines`]) {
      expect([path, (await c.api(path)).status]).toEqual([path, 200]);
    }
    // Reads that show stream keys, session URLs or the VPN's address need the token.
    for (const path of ['/engines', '/streams', '/vpn/status']) {
      expect([path, (await c.api(path)).status]).toEqual([path, 401]);
      expect([path, (await c.api(path, { token: c.token })).status]).toEqual([path, 200]);
    }
    expect(c.logs).toContain('"msg":"request"');
    expect(c.logs).not.toContain(c.token);
    expect(c.logs).not.toContain(wrong);
  });

  it('keeps exact counts under repeated starts and ends, and answers 404 for unknown pools and engines', async () => {
    const count = async () => (await c.engines(pool)).find((e) => e.name === engine).streams;
    const first = await c.api(streams, { method: 'POST', token: c.token, body: { id: 'exact' } });
    expect(first.status).toBe(201);
    const again = await c.api(streams, { method: 'POST', token: c.token, body: { id: 'exact' } });
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(false);
    expect(await count()).toBe(1);
    expect((await c.api(`${streams}/exact`, { method: 'DELETE', token: c.token })).body).toEqual({
      ended: true,
    });
    expect((await c.api(`${streams}/exact`, { method: 'DELETE', token: c.token })).body).toEqual({
      ended: false,
    });
    expect((await c.api(`${streams}/never`, { method: 'DELETE', token: c.token })).body).toEqual({
      ended: false,
    });
    expect(await count()).toBe(0);

    const noEngine = await c.api(`/api/v1/pools/${pool}/engines/${pool}-99/streams`, {
      method: 'POST',
      token: c.token,
      body: { id: 'x' },
    });
    expect([noEngine.status, noEngine.body.error.code]).toEqual([404, 'engine_not_found']);
    for (const path of ['/api/v1/pools/api-nope', '/api/v1/pools/api-nope/engines']) {
      const missing = await c.api(path);
      expect([missing.status, missing.body.error.code]).toEqual([404, 'pool_not_found']);
    }
    const acquireMissing = await c.api('/api/v1/pools/api-nope/acquire', { method: 'POST', token: c.token });
    expect(acquireMissing.status).toBe(404);
  });

  it('rejects malformed and oversized bodies with a JSON error and changes nothing', async () => {
    const cases: [string | undefined, unknown, number, string][] = [
      ['{"id": ', undefined, 400, 'invalid_json'],
      [undefined, { id: 5 }, 400, 'invalid_body'],
      [undefined, { id: '' }, 400, 'invalid_body'],
      [undefined, { id: 'typo', statURL: 'http://x/ace/stat/a/b' }, 400, 'invalid_body'],
      [undefined, { id: 'bad-url', statUrl: 'ftp://x/y' }, 400, 'invalid_body'],
      [undefined, [1, 2], 400, 'invalid_body'],
      [JSON.stringify({ id: 'big', pad: 'x'.repeat(100 * 1024) }), undefined, 413, 'payload_too_large'],
    ];
    for (const [raw, body, status, code] of cases) {
      const answer = await c.api(streams, {
        method: 'POST',
        token: c.token,
        ...(raw !== undefined ? { raw } : { body }),
      });
      expect([answer.status, answer.body?.error?.code]).toEqual([status, code]);
    }
    const typo = await c.api(streams, { method: 'POST', token: c.token, body: { id: 'typo', statURL: 'x' } });
    expect(typo.body.error.message).toMatch(/statURL/);
    const chunked = await chunkedPost(`${c.url}${streams}`, c.token, 1024 * 1024);
    if ('status' in chunked) {
      expect(chunked.status).toBe(413);
      expect(JSON.parse(chunked.body).error.code).toBe('payload_too_large');
    } else {
      expect(['EPIPE', 'ECONNRESET']).toContain(chunked.error);
    }
    expect((await c.engines(pool)).every((e) => e.streams === 0)).toBe(true);
    expect((await c.api('/livez')).status).toBe(200);
  });

  it('prints the status table and JSON, and exits 2 when the controller is unreachable', async () => {
    await c.api(streams, { method: 'POST', token: c.token, body: { id: 'shown' } });
    // Why also a free one: the table is read for `Ready True`, which needs minFree's second engine up.
    await waitFor('the pool to show the used engine and a free one', async () => {
      const { replicas } = await c.pool(pool);
      return replicas.used === 1 && replicas.free >= 1;
    });
    const table = await cli(['status', '--url', c.url]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`POOL ${pool}`));
    expect(table.stdout).toMatch(/ENGINE\s+STATE\s+PORT\s+STREAMS\s+FORWARDED/);
    expect(table.stdout).toMatch(new RegExp(`${engine}\\s+ready\\s+\\d+\\s+1\\s`));
    expect(table.stdout).toMatch(/CONDITION\s+STATUS\s+REASON\s+MESSAGE/);
    expect(table.stdout).toMatch(/Ready\s+True\s+MinFreeAvailable/);
    const json = await cli(['status', '--url', c.url, '-o', 'json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed[0].name).toBe(pool);
    expect(parsed[0].engines.find((e: { name: string }) => e.name === engine).streams).toBe(1);
    const closed = await freePort();
    const down = await cli(['status', '--url', `http://127.0.0.1:${closed}`]);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(
      new RegExp(`cannot reach the controller at http://127.0.0.1:${closed}.*ECONNREFUSED`),
    );
    const badFormat = await cli(['status', '--url', c.url, '-o', 'yaml']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/-o/);
    await c.api(`${streams}/shown`, { method: 'DELETE', token: c.token });
  });
});

describe('without ENGINEPOOL_API_TOKEN', () => {
  afterEach(cleanup);

  it('answers mutating routes 403 saying how to set a token, and reads 200', async () => {
    const pool = 'api-ro';
    const c = await controller(
      pool,
      poolYaml(pool, { range: '21010-21019', replicas: '{ minFree: 1, max: 2 }' }),
      {
        ENGINEPOOL_API_TOKEN: '',
      },
    ).start();
    for (const [method, path] of [
      ['POST', `/api/v1/pools/${pool}/acquire`],
      ['POST', '/events/stream_started'],
      ['POST', '/provision/acestream'],
    ] as const) {
      const answer = await c.api(path, { method, token: 'anything', body: {} });
      expect([path, answer.status]).toEqual([path, 403]);
      expect(answer.body.error.message).toMatch(/ENGINEPOOL_API_TOKEN/);
    }
    expect((await c.api('/api/v1/pools')).status).toBe(200);
    expect(c.logs).toMatch(/ENGINEPOOL_API_TOKEN is not set/);
  });
});

describe('acquire', () => {
  afterEach(cleanup);

  it('puts two concurrent acquires on two different free engines', async () => {
    const pool = 'api-acq';
    const c = await controller(
      pool,
      poolYaml(pool, { range: '21020-21029', replicas: '{ minFree: 2, max: 4, scaleDownDelaySeconds: 60 }' }),
    ).start();
    await readyEngines(c, pool, 2);
    const [a, b] = await Promise.all(
      ['one', 'two'].map((id) =>
        c.api(`/api/v1/pools/${pool}/acquire`, { method: 'POST', token: c.token, body: { id } }),
      ),
    );
    expect([a!.status, b!.status]).toEqual([200, 200]);
    expect(a!.body.engine.name).not.toBe(b!.body.engine.name);
    const engines = await c.engines(pool);
    expect(
      engines
        .filter((e) => e.streams === 1)
        .map((e) => e.name)
        .sort(),
    ).toEqual([a!.body.engine.name, b!.body.engine.name].sort());
    const retry = await c.api(`/api/v1/pools/${pool}/acquire`, {
      method: 'POST',
      token: c.token,
      body: { id: 'one' },
    });
    expect(retry.body).toMatchObject({
      streamId: 'one',
      created: false,
      engine: { name: a!.body.engine.name },
    });
    await waitFor('minFree to start two more engines', async () => (await c.pool(pool)).replicas.free === 2);
  });
});

describe('persistence', () => {
  afterEach(cleanup);

  it('keeps open streams across kill -9, never scales their engines down, and refuses a second controller on the state dir', async () => {
    const pool = 'api-kill';
    const c = await controller(
      pool,
      poolYaml(pool, { range: '21030-21049', replicas: '{ minFree: 1, max: 4, scaleDownDelaySeconds: 1 }' }),
    ).start();
    const [first] = await readyEngines(c, pool, 1);
    const started = await c.api(`/api/v1/pools/${pool}/engines/${first.name}/streams`, {
      method: 'POST',
      token: c.token,
      body: { id: 'survivor' },
    });
    expect(started.status).toBe(201);
    await readyEngines(c, pool, 2);

    const second = await cli([
      'run',
      '--config',
      c.config,
      '--listen',
      '127.0.0.1:0',
      '--state-dir',
      c.stateDir,
    ]);
    expect(second.code).toBe(1);
    expect(second.stdout).toMatch(/in use by enginepool pid \d+/);

    expect(await c.stop('SIGKILL')).toBeNull();
    await c.start();
    await waitFor('the restarted controller to observe the pool', async () => (await c.pool(pool))?.replicas);
    const engines = await c.engines(pool);
    expect(engines.find((e) => e.name === first.name)).toMatchObject({
      containerId: first.containerId,
      streams: 1,
    });
    const passes = async () =>
      (await c.api('/metrics')).text
        .split('\n')
        .filter((line) => line.startsWith(`enginepool_reconcile_total{pool="${pool}"`))
        .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    const before = await passes();
    await waitFor(
      'three more passes (each past the 1 s scale-down delay)',
      async () => (await passes()) >= before + 3,
      {
        timeoutMs: 30_000,
      },
    );
    const names = (await poolContainers(pool)).map((x) => x.name);
    expect(names).toContain(first.name);
    expect((await c.pool(pool)).replicas).toMatchObject({ used: 1, total: 2 });
    expect(c.logs).not.toMatch(new RegExp(`remove ${first.name} `));

    await c.api(`/api/v1/pools/${pool}/engines/${first.name}/streams/survivor`, {
      method: 'DELETE',
      token: c.token,
    });
    await waitFor(
      'the freed pool to shrink to minFree',
      async () => (await poolContainers(pool)).length === 1,
    );
  });
});
