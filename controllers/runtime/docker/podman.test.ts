import { describe, expect, it } from 'vitest';
import type { DockerContainerSummary } from '../../../state/observed.js';
import {
  dockerShapedDetails,
  dockerShapedList,
  EventTranslator,
  isPodman,
  type PodmanEvent,
} from './podman.js';

// Podman's answers (recorded from Podman 4.3's Docker-compatible API) read as Docker's; its errors are
// in dockerRuntime.test.ts with Docker's.

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
