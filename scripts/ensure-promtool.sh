#!/usr/bin/env bash
# Make sure promtool (Prometheus' checker) is on PATH: the tests run it on /metrics, the alert rules
# and the dashboard's queries. When it is missing (root only), install Debian's `prometheus` package,
# which ships it, without letting the package start a Prometheus server: the tests need only the
# checker. PROMTOOL=/path/to/promtool skips all of this.
set -euo pipefail
SAY_AS=ensure-promtool
# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"

if [ -n "${PROMTOOL:-}" ]; then
	[ -x "$PROMTOOL" ] || die "PROMTOOL=$PROMTOOL is not executable"
	exit 0
fi
command -v promtool >/dev/null 2>&1 && exit 0

# Why: Debian starts a package's service on install unless policy-rc.d says no (exit 101). Add one
# for the duration of the install only if there is none, and take it away again.
policy=/usr/sbin/policy-rc.d
added_policy=false
if [ "$(id -u)" = 0 ] && [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	added_policy=true
fi
cleanup() { if $added_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt_install --no-install-recommends prometheus
command -v promtool >/dev/null 2>&1 || die "promtool still missing after installing prometheus"
say "$(promtool --version 2>&1 | head -n 1)"
