#!/usr/bin/env bash
# `npm test`: lint and types, unit tests, then integration tests against a real Docker engine.
# On a fresh Debian machine it installs and starts dockerd (as root) and stops it at the end if it
# started it, installs promtool (Debian's prometheus package, its server not started), Debian's
# docker-compose (the compose files are checked with it) and Debian's chromium (for the status page's
# browser test). Extra arguments go to vitest (e.g. `npm test -- --project unit`).
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
else
  npx vitest run --project unit --project integration
  # Stops and starts dockerd: only once nothing else uses it.
  npx vitest run --project disruptive
fi
