#!/usr/bin/env bash
# Make Podman's Docker-compatible API available for the tests (rootful), on a private socket, with the
# stand-in images loaded; prints the DOCKER_HOST to use on stdout.
#
#   scripts/ensure-podman.sh          (root) apt-get install podman and netavark if missing; write
#                                     /etc/containers/containers.conf.d/50-enginepool.conf (ulimits,
#                                     below); start `podman system service --time=0` on
#                                     unix:///run/enginepool-podman/podman.sock unless it answers
#                                     (log /tmp/enginepool-podman.log, pid in
#                                     /run/enginepool-podman/service.pid); load the stand-in images
#                                     from Docker (`docker save | podman load`) when Podman lacks them.
#   scripts/ensure-podman.sh --stop   stop the service this script started, remove the pid file.
#
# The stand-in images must exist in Docker first (scripts/build-images.sh).
set -euo pipefail

readonly DIR=/run/enginepool-podman
readonly SOCKET=$DIR/podman.sock
readonly PIDFILE=$DIR/service.pid
readonly LOGFILE=/tmp/enginepool-podman.log
readonly CONF=/etc/containers/containers.conf.d/50-enginepool.conf
readonly DEADLINE=30
readonly IMAGES=(enginepool/stand-in-engine:dev enginepool/stand-in-gluetun:dev)

SAY_AS=ensure-podman
# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"

podman_api() { DOCKER_HOST=unix://$SOCKET docker "$@"; }

if [ "${1:-}" = --stop ]; then
	if [ ! -f "$PIDFILE" ]; then
		say "no $PIDFILE: the Podman service was not started by this script, leaving it alone"
		exit 0
	fi
	pid=$(cat "$PIDFILE")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		say "stopping the Podman service (pid $pid)"
		kill -TERM "$pid"
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDFILE" "$SOCKET"
	exit 0
elif [ $# -gt 0 ]; then
	die "usage: $0 [--stop]"
fi

[ "$(id -u)" = 0 ] || die "the tests run rootful Podman: run as root"
command -v podman >/dev/null 2>&1 || apt_install --no-install-recommends podman netavark
command -v podman >/dev/null 2>&1 || die "podman still missing after installing it"

# Why: Podman gives containers nofile=1048576 and nproc=4194304 by default; where the hard limits are
# lower (20000 open files on these machines) every container fails to start. Also write the events
# to a file: without systemd there is no journald to keep them, and the event stream would be empty.
mkdir -p "$(dirname "$CONF")"
cat >"$CONF.tmp" <<'EOF'
# Written by enginepool's scripts/ensure-podman.sh for its tests.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
events_logger = "file"
EOF
mv "$CONF.tmp" "$CONF"

if ! podman_api version >/dev/null 2>&1; then
	mkdir -p "$DIR"
	say "starting podman system service on unix://$SOCKET (log $LOGFILE)"
	# --time=0: the default is to exit after 5 s without a request.
	setsid nohup podman system service --time=0 "unix://$SOCKET" >"$LOGFILE" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	for _ in $(seq 1 $((DEADLINE * 4))); do
		podman_api version >/dev/null 2>&1 && break
		kill -0 "$(cat "$PIDFILE")" 2>/dev/null || {
			tail -n 20 "$LOGFILE" >&2
			die "the Podman service exited during startup"
		}
		sleep 0.25
	done
	podman_api version >/dev/null 2>&1 || die "the Podman service did not answer within ${DEADLINE}s"
fi

# Podman names loaded images localhost/<name>; compare by id, not by name.
for image in "${IMAGES[@]}"; do
	id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) ||
		die "$image is not in Docker: run scripts/build-images.sh first"
	if [ "$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null)" != "${id#sha256:}" ]; then
		docker save "$image" | podman load -q >/dev/null
		say "loaded $image into Podman"
	fi
done
echo "unix://$SOCKET"
