#!/bin/sh
# Sourced by the stand-ins' entrypoints (the caller defines log()): persistent nc listeners that are
# known to listen before the entrypoint goes on, a SIGTERM that stops them, interruptible sleeps.

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

# wait_listening PID PORT: true once PID holds a LISTEN socket on PORT (checked against
# /proc/net/tcp{,6} by socket inode, so another process's listener on the same port in a shared
# namespace does not count); false as soon as PID has died (bind failed).
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

# listen NAME PORT HANDLER: start a persistent listener or exit 1.
listen() {
	# nc's own stderr (e.g. "nc: bind: Address already in use") goes to the container log.
	nc "$LFLAGS" -p "$2" -e "$3" &
	pid=$!
	if ! wait_listening "$pid" "$2"; then
		kill "$pid" 2>/dev/null
		log "FATAL: cannot listen on $1 port $2 (already in use in this network namespace?)"
		shutdown 1
	fi
	PIDS="$PIDS $pid"
	log "$1 port $2 listening"
}

# sleep_for SECONDS: interruptible by SIGTERM (a foreground sleep would delay the trap).
sleep_for() {
	sleep "$1" &
	WAITPID=$!
	wait "$WAITPID"
	WAITPID=""
}

# watch_listeners: runs forever; a listener that died means the stand-in is broken: die loudly
# instead of lingering.
watch_listeners() {
	while :; do
		sleep_for 2
		for p in $PIDS; do
			if ! kill -0 "$p" 2>/dev/null; then
				log "FATAL: listener process $p died"
				shutdown 1
			fi
		done
	done
}
