#!/usr/bin/env bash
# Make sure a compose implementation is on PATH: the tests run `config` on every file in
# deploy/compose/. `docker compose` (v2) or `docker-compose` will do; when neither is there (root
# only), install Debian's docker-compose package (1.29, which is why the files have no top-level
# `name:`).
set -euo pipefail
SAY_AS=ensure-compose
# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"

docker compose version >/dev/null 2>&1 && exit 0
command -v docker-compose >/dev/null 2>&1 && exit 0
apt_install --no-install-recommends docker-compose
command -v docker-compose >/dev/null 2>&1 || die "docker-compose still missing after installing it"
say "$(docker-compose version --short 2>&1 | head -n 1)"
