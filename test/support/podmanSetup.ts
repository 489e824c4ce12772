import { onPodman } from './harness.js';

// The `podman` project runs against Podman only: DOCKER_HOST must point at its socket.
export default async function setup(): Promise<void> {
  if (!(await onPodman())) {
    throw new Error(
      "the podman project needs DOCKER_HOST at Podman's socket: DOCKER_HOST=$(bash scripts/ensure-podman.sh) npx vitest run --project podman",
    );
  }
}
