#!/usr/bin/env bash
# Make sure a headless Chromium is installed for the status page's browser test: Debian's `chromium`
# package (no browser download at test time; playwright-core drives it through executablePath).
# Prints the browser's path on stdout. CHROMIUM=/path/to/chromium skips all of this.
set -euo pipefail
SAY_AS=ensure-chromium
# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"

if [ -n "${CHROMIUM:-}" ]; then
	[ -x "$CHROMIUM" ] || die "CHROMIUM=$CHROMIUM is not executable"
	echo "$CHROMIUM"
	exit 0
fi
find_chromium() { command -v chromium || command -v chromium-browser || true; }
found=$(find_chromium)
if [ -z "$found" ]; then
	# Why: fonts-liberation gives text a real font (screenshots readable, layout close to a desktop's);
	# recommends would pull in a desktop's worth of packages the headless browser does not use.
	apt_install --no-install-recommends chromium fonts-liberation
	found=$(find_chromium)
	[ -n "$found" ] || die "chromium still missing after installing it"
	say "$("$found" --version 2>/dev/null | head -n 1)"
fi
echo "$found"
