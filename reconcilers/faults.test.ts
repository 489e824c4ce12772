import { describe, expect, it } from 'vitest';
import { type CreateStep, classifyCreateFault, type RuntimeErrorKind } from './faults.js';

describe('classifyCreateFault', () => {
  it.each<[CreateStep, RuntimeErrorKind, string, ReturnType<typeof classifyCreateFault>]>([
    ['create', 'nameConflict', 'the name "/ace-1" is already in use', { scope: 'local' }],
    ['create', 'conflict', 'removal of container ace-1 is already in progress', { scope: 'local' }],
    ['create', 'portInUse', 'Bind for 0.0.0.0:19000 failed', { scope: 'local', setAsidePort: true }],
    ['start', 'portInUse', 'address already in use', { scope: 'local', setAsidePort: true }],
    ['start', 'conflict', 'container is marked for removal and cannot be started', { scope: 'local' }],
    ['create', 'imageNotFound', 'No such image: engine:1', { scope: 'systemic', failure: 'ImageNotFound' }],
    ['create', 'badRequest', 'invalid reference format', { scope: 'systemic', failure: 'CreateFailed' }],
    ['create', 'notFound', 'network vpn-net not found', { scope: 'systemic', failure: 'CreateFailed' }],
    ['create', 'server', 'invalid mount config', { scope: 'systemic', failure: 'CreateFailed' }],
    ['start', 'server', 'exec: "/engine": not found', { scope: 'systemic', failure: 'StartFailed' }],
    ['start', 'badRequest', 'OCI runtime create failed', { scope: 'systemic', failure: 'StartFailed' }],
    ['start', 'server', 'cannot join network namespace of a non running container', { scope: 'systemic' }],
    ['create', 'unavailable', 'Docker is not reachable: connect ENOENT', { scope: 'daemon' }],
    ['start', 'unavailable', 'containerd: transport is closing', { scope: 'daemon' }],
    ['start', 'forbidden', 'permission denied on the Docker socket', { scope: 'daemon' }],
  ])('%s %s (%s)', (step, kind, message, expected) => {
    expect(classifyCreateFault(step, kind, message)).toEqual(expected);
  });
});
