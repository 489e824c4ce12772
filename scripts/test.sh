#!/usr/bin/env bash
# `npm test`: lint and types, unit tests, then integration tests against a real Docker engine, then
# their Podman subset against Podman's Docker-compatible API (vitest project `podman`).
# On a fresh Debian machine it installs and starts dockerd (as root) and stops it at the end if it
# started it, installs promtool (Debian's prometheus package, its server not started), Debian's
# docker-compose (the compose files are checked with it) and Debian's chromium (for the status page's
# browser test), and installs Podman and starts its API service (scripts/ensure-podman.sh; as root;
# ENGINEPOOL_PODMAN=0 skips the Podman run). Extra arguments go to vitest (e.g.
# `npm test -- --project unit`).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci
bash scripts/ensure-docker.sh
trap 'bash scripts/ensure-docker.sh --stop' EXIT
bash scripts/ensure-promtool.sh
bash scripts/ensure-compose.sh
bash scripts/ensure-chromium.sh >/dev/null

npx biome check .
npx tsc -p tsconfig.json --noEmit
npm run build --silent
bash scripts/build-images.sh
if [ $# -gt 0 ]; then
  npx vitest run "$@"
  exit 0
fi
podman_host=
if [ "${ENGINEPOOL_PODMAN:-1}" != 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    trap 'bash scripts/ensure-podman.sh --stop; bash scripts/ensure-docker.sh --stop' EXIT
    # Before the disruptive tests: it loads the stand-in images from dockerd.
    podman_host=$(bash scripts/ensure-podman.sh)
  else
    echo "test.sh: not root, so no Podman run (scripts/ensure-podman.sh installs and starts it as root)" >&2
  fi
fi
npx vitest run --project unit --project integration
# Stops and starts dockerd: only once nothing else uses it.
npx vitest run --project disruptive
[ -z "$podman_host" ] || DOCKER_HOST=$podman_host npx vitest run --project podman
