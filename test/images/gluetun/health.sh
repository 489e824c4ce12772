#!/bin/sh
# Stand-in Gluetun: health server handler (HEALTH_SERVER_ADDRESS, default 127.0.0.1:9999), run by
# `nc -ll -e` per connection. Any path: 200 with an empty body when healthy and running, else
# 500 with the error text; "healthcheck did not run yet" during FAKE_HEALTH_START_DELAY.
. /usr/local/lib/stand-in/state.sh
CR=$'\r' # busybox ash supports $'...'; no fork

send() { # STATUS BODY
	printf 'HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"$1" "${#2}" "$2"
	exit 0
}

IFS= read -r -t 5 line || exit 0
line=${line%"$CR"}
method=${line%% *}
len=0
while IFS= read -r -t 5 h; do
	h=${h%"$CR"}
	[ -z "$h" ] && break
	case $h in [Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh]:*)
		len=${h#*:}
		len=${len#"${len%%[! 	]*}"}
		case $len in '' | *[!0-9]*) len=0 ;; esac
		;;
	esac
done
[ "$len" -gt 0 ] && head -c "$len" >/dev/null

[ "$method" = GET ] || send "400 Bad Request" "method $method not supported
"
[ -f "$STATE/health_ran" ] || send "500 Internal Server Error" "healthcheck did not run yet
"
st_get status
[ "$v" = running ] || send "500 Internal Server Error" "VPN is not running (status $v)
"
st_get healthy
[ "$v" = 1 ] || send "500 Internal Server Error" "small periodic check: dialing 1.1.1.1:443: stand-in marked unhealthy
"
send "200 OK" ""
