import { describe, expect, it } from 'vitest';
import type { DockerContainerSummary } from '../../../state/observed.js';
import { normaliseError } from './dockerRuntime.js';
import {
  dockerShapedDetails,
  dockerShapedList,
  EventTranslator,
  isPodman,
  type PodmanEvent,
} from './podman.js';

// Podman's answers (recorded from Podman 4.3's Docker-compatible API) read as Docker's.

const http = (statusCode: number, message: string) => ({
  statusCode,
  json: { message },
  message: `(HTTP code ${statusCode}) - ${message}`,
});

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

describe('which engine answers', () => {
  it('is Podman when a component says so, whatever its position', () => {
    expect(isPodman([{ Name: 'Podman Engine' }, { Name: 'Conmon' }, { Name: 'Engine' }])).toBe(true);
    expect(isPodman([{ Name: 'Engine' }, { Name: 'containerd' }, { Name: 'runc' }])).toBe(false);
    expect(isPodman(undefined)).toBe(false);
  });
});

const podmanEvent = (action: string, id = 'abc', extra: Partial<PodmanEvent> = {}): PodmanEvent => ({
  Type: 'container',
  Action: action,
  Actor: { ID: id, Attributes: { name: 'gluetun' } },
  time: 1,
  ...extra,
});

describe("Podman's events", () => {
  it("calls a removal Docker's `destroy`", () => {
    expect(new EventTranslator().translate(podmanEvent('remove'))?.Action).toBe('destroy');
  });

  it("moves the health value into Docker's action and drops repeats of it, per container", () => {
    const translator = new EventTranslator();
    const actions = [
      podmanEvent('health_status', 'a', { HealthStatus: 'healthy' }),
      podmanEvent('health_status', 'a', { HealthStatus: 'healthy' }),
      podmanEvent('health_status', 'b', { HealthStatus: 'healthy' }),
      podmanEvent('health_status', 'a', { HealthStatus: 'unhealthy' }),
      podmanEvent('health_status', 'a', { HealthStatus: 'unhealthy' }),
      podmanEvent('start', 'a'),
      podmanEvent('health_status', 'a', { HealthStatus: 'unhealthy' }),
    ].map((e) => translator.translate(e));
    expect(actions.map((e) => e && `${e.Actor?.ID} ${e.Action}`)).toEqual([
      'a health_status: healthy',
      undefined,
      'b health_status: healthy',
      'a health_status: unhealthy',
      undefined,
      'a start',
      'a health_status: unhealthy',
    ]);
    expect(actions[0]).not.toHaveProperty('HealthStatus');
  });

  it("passes Docker's own events unchanged", () => {
    const translator = new EventTranslator();
    for (const action of ['create', 'start', 'die', 'destroy', 'health_status: healthy', 'exec_start: sh']) {
      const event = podmanEvent(action);
      expect(translator.translate(event)).toEqual(event);
    }
  });
});

describe("Podman's list", () => {
  const gluetun: DockerContainerSummary = {
    Id: 'g1',
    Names: ['/gluetun'],
    Ports: [{ PrivatePort: 25500, PublicPort: 25500, Type: 'tcp' }],
  };
  const engine: DockerContainerSummary = { ...gluetun, Id: 'e1', Names: ['/vpn-1'] };

  it("lists a container in another one's namespace with its network mode and without that one's ports", () => {
    const modes = new Map([
      ['g1', 'bridge'],
      ['e1', 'container:g1'],
    ]);
    expect(dockerShapedList([gluetun, engine], modes)).toEqual([
      { ...gluetun, HostConfig: { NetworkMode: 'bridge' } },
      { ...engine, Ports: [], HostConfig: { NetworkMode: 'container:g1' } },
    ]);
  });

  it('leaves a container whose network mode is not known yet as listed', () => {
    expect(dockerShapedList([engine], new Map())).toEqual([engine]);
  });
});

describe("Podman's inspect", () => {
  const details = (health: object) => ({ Id: 'g1', State: { Status: 'running', Health: health } });

  it('drops a health status no check produced (HEALTHCHECKs never run without systemd)', () => {
    expect(dockerShapedDetails(details({ Status: 'starting', FailingStreak: 0, Log: null }))).toEqual({
      Id: 'g1',
      State: { Status: 'running' },
    });
  });

  it('keeps a status that checks produced', () => {
    const measured = details({ Status: 'unhealthy', Log: [{ ExitCode: 1 }] });
    expect(dockerShapedDetails(measured)).toBe(measured);
  });
});
