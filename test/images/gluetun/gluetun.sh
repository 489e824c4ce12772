#!/bin/sh
# Stand-in Gluetun (busybox sh). PID 1 of the enginepool/stand-in-gluetun image.
#
# Owns the network namespace that engines join with --network container:<this>; ports published
# on this container reach them. Serves an imitation of gluetun's control server and health
# server with `busybox nc -ll` listeners; the VPN state lives in /state (see state.sh) and is
# changed by the control API (PUT /v1/vpn/status) or `docker exec <c> /bin/fakectl ...`.
# Every start (including `docker restart`) begins from the env-given state.

set -u

log() { echo "stand-in-gluetun: $*" >&2; }

LIB=/usr/local/lib/stand-in
. "$LIB/state.sh"

port_of() { # ADDRESS ("host:port" or ":port") -> port
	p=${1##*:}
	case $p in '' | *[!0-9]*)
		log "invalid address '$1' (expected [host]:port)"
		exit 1
		;;
	esac
	echo "$p"
}

CONTROL_ADDR=${HTTP_CONTROL_SERVER_ADDRESS:-:8000}
HEALTH_ADDR=${HEALTH_SERVER_ADDRESS:-127.0.0.1:9999}
CONTROL_PORT=$(port_of "$CONTROL_ADDR") || exit 1
HEALTH_PORT=$(port_of "$HEALTH_ADDR") || exit 1
HEALTH_DELAY=${FAKE_HEALTH_START_DELAY:-0}
case $HEALTH_DELAY in '' | *[!0-9.]*)
	log "invalid FAKE_HEALTH_START_DELAY '$HEALTH_DELAY' (seconds)"
	exit 1
	;;
esac
case ${FAKE_AUTH:-none} in
none | public-defaults | apikey:?* | portforward-protected:?*) ;;
*)
	log "invalid FAKE_AUTH '${FAKE_AUTH}' (none | apikey:KEY | public-defaults | portforward-protected:KEY)"
	exit 1
	;;
esac
FWD=${FAKE_FORWARDED_PORT:-}
case $FWD in *[!0-9]*)
	log "invalid FAKE_FORWARDED_PORT '$FWD'"
	exit 1
	;;
esac
[ "$FWD" = 0 ] && FWD=""

rm -rf "$STATE"
mkdir -p "$STATE"
st_set status running
st_set healthy 1
st_set public_ip "${FAKE_PUBLIC_IP-203.0.113.7}"
st_set public_ip_saved "${FAKE_PUBLIC_IP-203.0.113.7}"
st_set port_saved "$FWD"
st_set_port "$FWD"

# busybox nc's listen backlog is the number of -l flags: plain `-ll` queues only 2 pending
# connections, so a burst of clients gets SYNs dropped (1 s+ retransmit stalls). Use 128.
LFLAGS=-$(printf 'l%.0s' $(seq 128))
PIDS=""
WAITPID=""
shutdown() {
	# shellcheck disable=SC2086
	[ -n "$PIDS$WAITPID" ] && kill $PIDS $WAITPID 2>/dev/null
	exit "$1"
}
trap 'log "SIGTERM received, exiting"; shutdown 0' TERM
trap 'log "SIGINT received, exiting"; shutdown 0' INT

# wait_listening PID PORT: true once PID holds a LISTEN socket on PORT (by socket inode in
# /proc/net/tcp{,6}); false as soon as PID has died (bind failed).
wait_listening() {
	hex=$(printf '%04X' "$2")
	i=0
	while [ $i -lt 200 ]; do
		kill -0 "$1" 2>/dev/null || return 1
		inodes=""
		for fd in /proc/"$1"/fd/*; do
			l=$(readlink "$fd" 2>/dev/null) || continue
			case $l in socket:*)
				l=${l#socket:?}
				inodes="$inodes ${l%?}"
				;;
			esac
		done
		if [ -n "$inodes" ] && awk -v port="$hex" -v inodes="$inodes" '
			BEGIN { n = split(inodes, a, " "); for (k = 1; k <= n; k++) want[a[k]] = 1 }
			FNR > 1 { split($2, la, ":"); if (la[2] == port && $4 == "0A" && ($10 in want)) { found = 1; exit } }
			END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			return 0
		fi
		usleep 10000
		i=$((i + 1))
	done
	return 1
}

listen() { # NAME PORT HANDLER
	nc "$LFLAGS" -p "$2" -e "$3" &
	pid=$!
	if ! wait_listening "$pid" "$2"; then
		kill "$pid" 2>/dev/null
		log "FATAL: cannot listen on $1 port $2"
		shutdown 1
	fi
	PIDS="$PIDS $pid"
}

sleep_for() {
	sleep "$1" &
	WAITPID=$!
	wait "$WAITPID"
	WAITPID=""
}

# busybox nc cannot bind one address: both servers listen on all interfaces (the health
# server is therefore reachable from the namespace, on 127.0.0.1 as with real gluetun).
listen "control server" "$CONTROL_PORT" "$LIB/control.sh"
listen "health server" "$HEALTH_PORT" "$LIB/health.sh"
log "control server listening on :$CONTROL_PORT (auth ${FAKE_AUTH:-none}, api ${FAKE_GLUETUN_VERSION:-v3.41}); health server on :$HEALTH_PORT"
log "VPN status running, public IP '${FAKE_PUBLIC_IP-203.0.113.7}', forwarded port '${FWD:-none}'"

if [ "$HEALTH_DELAY" != 0 ]; then
	sleep_for "$HEALTH_DELAY"
fi
: >"$STATE/health_ran"
log "healthcheck ran"

while :; do
	sleep_for 2
	for p in $PIDS; do
		if ! kill -0 "$p" 2>/dev/null; then
			log "FATAL: listener process $p died"
			shutdown 1
		fi
	done
done
