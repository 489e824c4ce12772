#!/bin/sh
# Stand-in AceStream engine (busybox sh). PID 1 of the enginepool/stand-in-engine image.
#
# Binds three TCP ports like a real engine -- P2P (--port), TCP API (--api-port) and HTTP
# (--http-port) -- each with a `busybox nc -ll` listener that forks a handler script per
# connection. Exits 1 if any port cannot be bound, so engines sharing one network namespace
# (behind a VPN container) collide for real. See test/images/README.md.

set -u

log() { echo "stand-in-engine: $*" >&2; }

LIB=/usr/local/lib/stand-in
RUN=/tmp/stand-in
SESSIONS=/tmp/sessions

HTTP_PORT=6878
API_PORT=62062
P2P_PORT=8621
BIND_ALL=false
MODE=${FAKE_MODE:-normal}
DELAY=${FAKE_STARTUP_DELAY:-0}

# Every argument as a JSON string list, for /fake/info (one awk call, handles any bytes).
json_list() {
	awk 'function esc(s) {
		gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\n/, "\\n", s)
		gsub(/\r/, "\\r", s); gsub(/\t/, "\\t", s); return "\"" s "\""
	}
	BEGIN { out = ""; for (i = 1; i < ARGC; i++) out = out (i > 1 ? "," : "") esc(ARGV[i]); print "[" out "]"; exit 0 }' "$@"
}

ARGS_JSON=$(json_list "$@")
UNKNOWN_JSON=""

is_port() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	[ "$1" -ge 1 ] 2>/dev/null && [ "$1" -le 65535 ]
}

set_port() { # var flag value
	if ! is_port "$3"; then
		log "invalid value for $2: '$3' (expected a TCP port 1-65535)"
		exit 1
	fi
	eval "$1=\$3"
}

while [ $# -gt 0 ]; do
	a=$1
	shift
	case $a in
	--http-port=*) set_port HTTP_PORT --http-port "${a#*=}" ;;
	--api-port=*) set_port API_PORT --api-port "${a#*=}" ;;
	--port=*) set_port P2P_PORT --port "${a#*=}" ;;
	--http-port | --api-port | --port)
		if [ $# -eq 0 ]; then
			log "missing value for $a"
			exit 1
		fi
		case $a in
		--http-port) set_port HTTP_PORT "$a" "$1" ;;
		--api-port) set_port API_PORT "$a" "$1" ;;
		--port) set_port P2P_PORT "$a" "$1" ;;
		esac
		shift
		;;
	--bind-all | --bind-all=true | --bind-all=1) BIND_ALL=true ;;
	*)
		j=$(json_list "$a")
		j=${j#?}
		UNKNOWN_JSON="$UNKNOWN_JSON${UNKNOWN_JSON:+,}${j%?}"
		log "ignoring argument: $a"
		;;
	esac
done

EXIT_AFTER=""
case $MODE in
normal | never-ready | hang) ;;
crash)
	log "FAKE_MODE=crash: simulated engine crash at startup"
	exit 1
	;;
exit-after:*)
	EXIT_AFTER=${MODE#exit-after:}
	case $EXIT_AFTER in '' | *[!0-9.]*)
		log "invalid FAKE_MODE '$MODE' (exit-after:N needs N in seconds)"
		exit 1
		;;
	esac
	;;
*)
	log "invalid FAKE_MODE '$MODE' (normal | crash | never-ready | hang | exit-after:N)"
	exit 1
	;;
esac
case $DELAY in '' | *[!0-9.]*)
	log "invalid FAKE_STARTUP_DELAY '$DELAY' (seconds)"
	exit 1
	;;
esac

# A restarted engine forgets everything, like the real one.
rm -rf "$RUN" "$SESSIONS"
mkdir -p "$RUN" "$SESSIONS"

read -r HOSTNAME_NOW </proc/sys/kernel/hostname || HOSTNAME_NOW=""
printf '{"httpPort":%s,"apiPort":%s,"p2pPort":%s,"bindAll":%s,"args":%s,"unknownArgs":%s,"env":{"FAKE_MODE":"%s","FAKE_STARTUP_DELAY":"%s"},"hostname":"%s","startedAt":%s}\n' \
	"$HTTP_PORT" "$API_PORT" "$P2P_PORT" "$BIND_ALL" "$ARGS_JSON" "[$UNKNOWN_JSON]" \
	"$MODE" "$DELAY" "$HOSTNAME_NOW" "$(date +%s)" >"$RUN/info.json"

# Values the per-connection handlers read.
export ENGINE_HTTP_PORT=$HTTP_PORT ENGINE_API_PORT=$API_PORT ENGINE_P2P_PORT=$P2P_PORT

. /usr/local/lib/stand-in-common/listeners.sh

log "starting: http=$HTTP_PORT api=$API_PORT p2p=$P2P_PORT bind-all=$BIND_ALL mode=$MODE delay=${DELAY}s"
listen p2p "$P2P_PORT" /bin/true
listen api "$API_PORT" "$LIB/api.sh"

if [ "$DELAY" != 0 ]; then
	log "startup delay ${DELAY}s (API answers NOTREADY meanwhile)"
	sleep_for "$DELAY"
fi

case $MODE in
never-ready)
	log "FAKE_MODE=never-ready: not serving HTTP on port $HTTP_PORT"
	;;
hang)
	listen http "$HTTP_PORT" "$LIB/hang.sh"
	log "FAKE_MODE=hang: HTTP accepts connections but never answers"
	;;
*)
	listen http "$HTTP_PORT" "$LIB/http.sh"
	: >"$RUN/ready"
	log "ready"
	;;
esac

if [ -n "$EXIT_AFTER" ]; then
	sleep_for "$EXIT_AFTER"
	log "FAKE_MODE=$MODE: exiting with code 3"
	shutdown 3
fi

watch_listeners
