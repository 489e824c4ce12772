import { describe, expect, it } from 'vitest';
import { normaliseError } from './dockerRuntime.js';

// Docker's errors mapped to the kinds the controller acts on, from the raw shapes dockerode rejects with.

const http = (statusCode: number, message: string) => ({
  statusCode,
  json: { message },
  message: `(HTTP code ${statusCode}) - ${message}`,
});

describe('normaliseError', () => {
  it.each([
    [
      'a refused socket',
      { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED /var/run/docker.sock' },
      'unavailable',
    ],
    [
      'a socket it may not use',
      { code: 'EACCES', message: 'connect EACCES /var/run/docker.sock' },
      'forbidden',
    ],
    ['a missing image', http(404, 'No such image: acestream/engine:latest'), 'imageNotFound'],
    ['a missing container', http(404, 'No such container: abc'), 'notFound'],
    [
      'a taken name',
      http(409, 'Conflict. The container name "/ace-1" is already in use by container "abc".'),
      'nameConflict',
    ],
    [
      'a taken host port',
      http(
        500,
        'driver failed programming external connectivity: Bind for 0.0.0.0:19000 failed: port is already allocated',
      ),
      'portInUse',
    ],
    [
      'a dying daemon',
      http(
        500,
        'failed to update store for object type *libnetwork.endpoint: open : no such file or directory',
      ),
      'unavailable',
    ],
    ['containerd gone', http(500, 'grpc: the client connection is closing'), 'unavailable'],
    ['a bad request', http(400, 'invalid reference format'), 'badRequest'],
    [
      'another server error',
      http(500, 'OCI runtime create failed: exec: "nope": executable file not found'),
      'server',
    ],
  ])('maps %s', (_title, raw, kind) => {
    expect(normaliseError('start', raw).kind).toBe(kind);
  });
});
