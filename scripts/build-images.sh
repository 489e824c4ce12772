#!/usr/bin/env bash
# Build the stand-in images used by the integration tests, the demo and the benchmark:
#   test/images/engine  -> enginepool/stand-in-engine:dev
#   test/images/gluetun -> enginepool/stand-in-gluetun:dev
# (any other directory test/images/<name>/ with a Dockerfile -> enginepool/stand-in-<name>:dev).
#
# Images are FROM scratch: the build context is a temporary copy of the directory plus rootfs/,
# holding the host's static busybox (/bin/busybox) and one symlink per applet in rootfs/bin.
# Each image carries the label io.enginepool.test.content-hash (sha256 over the directory's
# files, busybox and the context recipe); the build is skipped when the tagged image already
# has the same hash, so a second run takes well under a second.
#
# Usage: scripts/build-images.sh [--force] [NAME...]
#   --force  rebuild even when up to date
#   NAME     only these directories (e.g. engine)
# Env: BUSYBOX (default /bin/busybox), IMAGE_TAG (default dev).
set -euo pipefail

readonly LABEL=io.enginepool.test.content-hash
# Bump when the way the build context is assembled changes (part of the hash).
readonly RECIPE=stand-in-context-v2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGES_DIR=$ROOT/test/images
# Shell shared by every stand-in, installed in each image under /usr/local/lib/stand-in-common/.
COMMON_DIR=$IMAGES_DIR/common
BUSYBOX=${BUSYBOX:-/bin/busybox}
TAG=${IMAGE_TAG:-dev}

die() {
	echo "build-images: $*" >&2
	exit 1
}

force=0
names=()
for arg in "$@"; do
	case $arg in
	--force) force=1 ;;
	-h | --help)
		sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option: $arg" ;;
	*) names+=("$arg") ;;
	esac
done

command -v docker >/dev/null 2>&1 ||
	die "docker CLI not found (run scripts/ensure-docker.sh, or install docker.io)"
docker info >/dev/null 2>&1 ||
	die "cannot talk to the Docker daemon ('docker info' fails; run scripts/ensure-docker.sh)"
[ -x "$BUSYBOX" ] ||
	die "$BUSYBOX not found: install a static busybox (apt-get install -y busybox-static)"
if ! "$BUSYBOX" --list >/dev/null 2>&1; then
	die "$BUSYBOX does not run"
fi
if command -v file >/dev/null 2>&1 && ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
	die "$BUSYBOX is not statically linked (install busybox-static; FROM scratch has no libc)"
fi

if [ ${#names[@]} -eq 0 ]; then
	for d in "$IMAGES_DIR"/*/; do
		[ -f "$d/Dockerfile" ] && names+=("$(basename "$d")")
	done
fi
[ ${#names[@]} -gt 0 ] || die "no image directories with a Dockerfile under $IMAGES_DIR"

busybox_sum=$(sha256sum "$BUSYBOX" | cut -d' ' -f1)

# sha256 of: recipe, busybox, and every file of the directory and of common/ (path, mode, content).
content_hash() {
	local dir
	{
		echo "recipe $RECIPE"
		echo "busybox $busybox_sum"
		for dir in "$1" "$COMMON_DIR"; do
			(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z |
				while IFS= read -r -d '' f; do
					printf 'file %s %s %s\n' "$f" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
				done)
		done
	} | sha256sum | cut -d' ' -f1
}

tmp=$(mktemp -d /tmp/enginepool-build.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

status=0
for name in "${names[@]}"; do
	dir=$IMAGES_DIR/$name
	[ -f "$dir/Dockerfile" ] || die "no Dockerfile in $dir"
	image=enginepool/stand-in-$name:$TAG
	hash=$(content_hash "$dir")
	current=$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$image" 2>/dev/null || true)
	if [ "$force" = 0 ] && [ "$current" = "$hash" ]; then
		echo "$image up to date (${hash:0:12})"
		continue
	fi

	start=$(date +%s.%N)
	ctx=$tmp/$name
	mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp"
	chmod 1777 "$ctx/rootfs/tmp"
	cp -a "$dir/." "$ctx/"
	# Scripts must be executable inside the image whatever the checkout's file modes are.
	find "$ctx" -maxdepth 1 -type f ! -name Dockerfile ! -name '*.md' -exec chmod 0755 {} +
	mkdir -p "$ctx/rootfs/usr/local/lib/stand-in-common"
	cp "$COMMON_DIR"/*.sh "$ctx/rootfs/usr/local/lib/stand-in-common/"
	cp "$BUSYBOX" "$ctx/rootfs/bin/busybox"
	chmod 0755 "$ctx/rootfs/bin/busybox"
	for applet in $("$BUSYBOX" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$ctx/rootfs/bin/$applet"
	done

	old_id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
	log=$tmp/$name.log
	# The legacy builder is enough (and the only one when buildx is absent); silence its notice.
	if ! DOCKER_BUILDKIT=0 docker build --label "$LABEL=$hash" -t "$image" "$ctx" >"$log" 2>&1; then
		echo "$image FAILED to build; docker build output:" >&2
		sed 's/^/  /' "$log" >&2
		status=1
		continue
	fi
	end=$(date +%s.%N)
	# Drop the image this one replaced (now untagged); fails harmlessly while a container uses it.
	new_id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
	if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
		docker image rm "$old_id" >/dev/null 2>&1 || true
	fi
	echo "$image built (${hash:0:12}) in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')s"
done
exit $status
