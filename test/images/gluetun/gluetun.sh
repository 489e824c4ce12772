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

. /usr/local/lib/stand-in-common/listeners.sh

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

watch_listeners
