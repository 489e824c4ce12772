import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pullQuery } from './docker/dockerRuntime.js';
import { createEngineApi, EngineApiError, engineApiAddress, jsonLines, socketPathOf } from './engineApi.js';

// The Engine API client's own behaviour (addresses, queries, errors, silence, streams), against a small
// HTTP server on a unix socket; what Docker answers is the integration tests' part, against a real dockerd.

describe('engineApiAddress', () => {
  it.each([
    [undefined, { socketPath: '/var/run/docker.sock' }],
    ['unix:///run/user/1000/podman/podman.sock', { socketPath: '/run/user/1000/podman/podman.sock' }],
    ['/run/docker.sock', { socketPath: '/run/docker.sock' }],
    ['tcp://10.0.0.2:2375', { protocol: 'http', host: '10.0.0.2', port: 2375 }],
    ['tcp://docker', { protocol: 'http', host: 'docker', port: 2375 }],
    ['https://docker:2376', { protocol: 'https', host: 'docker', port: 2376 }],
  ])('reads DOCKER_HOST=%s', (dockerHost, address) => {
    expect(engineApiAddress(dockerHost)).toEqual(address);
  });

  it('names a socket only for socket addresses', () => {
    expect(socketPathOf('unix:///x.sock')).toBe('/x.sock');
    expect(socketPathOf('tcp://docker:2375')).toBeUndefined();
  });
});

describe('pullQuery', () => {
  it.each([
    ['acestream/engine', { fromImage: 'acestream/engine', tag: 'latest' }],
    ['acestream/engine:3.2', { fromImage: 'acestream/engine', tag: '3.2' }],
    ['registry:5000/team/engine', { fromImage: 'registry:5000/team/engine', tag: 'latest' }],
    ['registry:5000/team/engine:dev', { fromImage: 'registry:5000/team/engine', tag: 'dev' }],
    ['engine@sha256:abcd', { fromImage: 'engine@sha256:abcd' }],
  ])('pulls %s as one tag', (ref, query) => {
    expect(pullQuery(ref)).toEqual(query);
  });
});

describe('jsonLines', () => {
  it('joins lines split across chunks, even inside a character, and skips torn lines', async () => {
    const text = Buffer.from('{"a":"é"}\n{torn\n\n{"b":2}\n{"c":');
    const split = text.indexOf(Buffer.from('é')) + 1;
    const chunks = [text.subarray(0, split), text.subarray(split, split + 5), text.subarray(split + 5)];
    const lines: unknown[] = [];
    for await (const line of jsonLines(Readable.from(chunks))) lines.push(line);
    expect(lines).toEqual([{ a: 'é' }, { b: 2 }]);
  });
});

describe('createEngineApi', () => {
  let server: Server | undefined;
  let dir: string | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    dir = mkdtempSync(join(tmpdir(), 'engine-api-'));
    const socketPath = join(dir, 'd.sock');
    server = createServer(handler);
    server.listen(socketPath);
    await once(server, 'listening');
    return socketPath;
  }

  it('sends the query and the JSON body, and reads the JSON answer', async () => {
    const socketPath = await serve((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        response.setHeader('Content-Type', 'application/json');
        response.end(JSON.stringify({ method: request.method, url: request.url, body: JSON.parse(body) }));
      });
    });
    const api = createEngineApi({ socketPath }, 1000);
    const answer = await api.request('POST', '/containers/create', {
      query: { name: 'ace-1', filters: { label: ['a=b'] }, since: undefined, all: true },
      body: { Image: 'x' },
    });
    expect(answer).toEqual({
      method: 'POST',
      url: `/containers/create?name=ace-1&filters=${encodeURIComponent('{"label":["a=b"]}')}&all=true`,
      body: { Image: 'x' },
    });
  });

  it("rejects with the daemon's status and message", async () => {
    const socketPath = await serve((_request, response) => {
      response.statusCode = 409;
      response.end(JSON.stringify({ message: 'Conflict. The container name "/ace-1" is already in use' }));
    });
    const error = await createEngineApi({ socketPath }, 1000)
      .request('POST', '/containers/create')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineApiError);
    expect(error).toMatchObject({
      statusCode: 409,
      message: 'Conflict. The container name "/ace-1" is already in use',
    });
  });

  it('fails a call the daemon stays silent on, and leaves streams open', async () => {
    const socketPath = await serve((request, response) => {
      if (request.url === '/events') response.writeHead(200).write('{"Action":"start"}\n');
      // Anything else: no answer at all.
    });
    const api = createEngineApi({ socketPath }, 50);
    await expect(api.request('GET', '/containers/json')).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const controller = new AbortController();
    const stream = await api.stream('GET', '/events', { signal: controller.signal });
    const events = jsonLines(stream)[Symbol.asyncIterator]();
    expect((await events.next()).value).toEqual({ Action: 'start' });
    controller.abort();
  });

  it('rejects with the socket error code when nothing listens', async () => {
    await expect(
      createEngineApi({ socketPath: '/nonexistent/docker.sock' }, 1000).request('GET', '/_ping'),
    ).rejects.toMatchObject({ code: 'ENOENT', statusCode: undefined });
  });
});
