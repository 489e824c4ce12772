#!/usr/bin/env bash
# Make sure a Docker daemon and a static busybox are available (for the stand-in images).
#
#   scripts/ensure-docker.sh          if `docker info` works: only make sure /bin/busybox exists.
#                                     Otherwise (root only): apt-get install docker.io and/or
#                                     busybox-static if missing, start dockerd in the background
#                                     (log /tmp/enginepool-dockerd.log, pid in
#                                     /tmp/enginepool-dockerd.pid) and wait up to 60 s for it.
#   scripts/ensure-docker.sh --stop   stop the dockerd this script started (only if the pid file
#                                     exists), wait for it to exit, remove the pid file.
set -euo pipefail

readonly PIDFILE=/tmp/enginepool-dockerd.pid
readonly LOGFILE=/tmp/enginepool-dockerd.log
readonly DEADLINE=60

SAY_AS=ensure-docker
# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"

ensure_busybox() {
	[ -x /bin/busybox ] || apt_install busybox-static
	[ -x /bin/busybox ] || die "/bin/busybox still missing after installing busybox-static"
}

# True while process $1 runs. Why not only `kill -0`: a killed dockerd whose parent is gone may stay a
# zombie until something reaps it, and a zombie answers `kill -0`.
running() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	! grep -qE '^[0-9]+ \(.*\) [ZX]' "/proc/$1/stat"
}

if [ "${1:-}" = --stop ]; then
	if [ ! -f "$PIDFILE" ]; then
		say "no $PIDFILE: dockerd was not started by this script, leaving it alone"
		exit 0
	fi
	pid=$(cat "$PIDFILE")
	if [ -n "$pid" ] && running "$pid"; then
		say "stopping dockerd (pid $pid)"
		kill -TERM "$pid"
		for _ in $(seq 1 300); do
			running "$pid" || break
			sleep 0.1
		done
		if running "$pid"; then
			say "dockerd (pid $pid) did not exit within 30 s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
		fi
	else
		say "dockerd (pid ${pid:-?}) is not running any more"
	fi
	rm -f "$PIDFILE"
	exit 0
elif [ $# -gt 0 ]; then
	die "usage: $0 [--stop]"
fi

if docker info >/dev/null 2>&1; then
	ensure_busybox
	exit 0
fi

[ "$(id -u)" = 0 ] || die "'docker info' fails and starting dockerd needs root"

missing=()
command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 || missing+=(docker.io)
[ -x /bin/busybox ] || missing+=(busybox-static)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
ensure_busybox
command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after installing docker.io"

if [ -f "$PIDFILE" ] && running "$(cat "$PIDFILE")"; then
	pid=$(cat "$PIDFILE")
	say "dockerd from an earlier run is still starting (pid $pid)"
else
	say "starting dockerd (log $LOGFILE)"
	# setsid + nohup: dockerd outlives this script and its terminal.
	setsid nohup dockerd >"$LOGFILE" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$PIDFILE"
fi

for _ in $(seq 1 $((DEADLINE * 4))); do
	if docker info >/dev/null 2>&1; then
		say "dockerd is up (pid $pid)"
		exit 0
	fi
	if ! running "$pid"; then
		rm -f "$PIDFILE"
		say "dockerd exited during startup; last lines of $LOGFILE:"
		tail -n 20 "$LOGFILE" >&2 || true
		exit 1
	fi
	sleep 0.25
done
say "dockerd (pid $pid) did not answer 'docker info' within ${DEADLINE}s; last lines of $LOGFILE:"
tail -n 20 "$LOGFILE" >&2 || true
exit 1
