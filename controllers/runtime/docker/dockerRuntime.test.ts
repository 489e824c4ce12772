import { describe, expect, it } from 'vitest';
import { EngineApiError } from '../engineApi.js';
import { normaliseError } from './dockerRuntime.js';

// Docker's errors mapped to the kinds the controller acts on, from what the Engine API client rejects with.

const http = (statusCode: number, message: string) => new EngineApiError(message, statusCode);

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
    [
      'a removal someone else started',
      http(409, 'removal of container 1691f455ea25 is already in progress'),
      'removing',
    ],
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

// Podman answers 500 where Docker says 409 or 404; recorded from Podman 4.3.
describe("Podman's errors", () => {
  it.each([
    [
      'a taken name (500, where Docker says 409)',
      http(
        500,
        'container create: creating container storage: the container name "pod-1" is already in use by 8027. You have to remove that container to be able to reuse that name: that name is already in use',
      ),
      'nameConflict',
    ],
    [
      'a name still held by a container being removed',
      http(500, 'container create: name "pod-1" is in use: container already exists'),
      'nameConflict',
    ],
    [
      'a VPN container with engines in its namespace',
      http(
        500,
        'container b5b6 has dependent containers which must be removed before it: 3d77: container already exists',
      ),
      'conflict',
    ],
    [
      'a running container removed without force',
      http(
        500,
        'cannot remove container 8027 as it is running - running or paused containers cannot be removed without force: container state improper',
      ),
      'conflict',
    ],
    [
      'a taken host port',
      http(500, 'cannot listen on the TCP port: listen tcp4 :25001: bind: address already in use'),
      'portInUse',
    ],
    [
      'a missing image',
      http(404, 'no such image: docker.io/enginepool/nope:dev: image not known'),
      'imageNotFound',
    ],
    [
      'a container inspected while it is being removed (500)',
      http(500, 'container 81f5af91e181543cef66a869d02a3032265421f9240e595621053951e5fe374b does not exist '),
      'notFound',
    ],
    [
      'a missing container',
      http(404, 'no container with name or ID "pod-nope" found: no such container'),
      'notFound',
    ],
    [
      'another server error',
      http(
        500,
        'crun: executable file `nope` not found in $PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found',
      ),
      'server',
    ],
  ])('maps %s', (_title, raw, kind) => {
    expect(normaliseError('create', raw).kind).toBe(kind);
  });
});
