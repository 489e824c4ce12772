#!/bin/sh
# Stand-in AceStream engine: HTTP handler, run by `nc -ll -e` once per connection with the
# socket on stdin/stdout. Parses one request, prints one HTTP/1.1 response, exits (the
# connection closes). Mostly shell builtins, so a request costs ~1 fork+exec.

set -f
RUN=/tmp/stand-in
SESSIONS=/tmp/sessions
PORT=${ENGINE_HTTP_PORT:-6878}
CR=$'\r' # busybox ash supports $'...'; no fork

respond() { # STATUS CONTENT-TYPE BODY
	printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"$1" "$2" "${#3}" "$3"
	exit 0
}

# 200 JSON; `format=jsonp&callback=cb` wraps it like the real engine does.
json() {
	if [ "$q_format" = jsonp ] && [ -n "$q_callback" ]; then
		respond "200 OK" "application/javascript" "$q_callback($1);"
	fi
	respond "200 OK" "application/json" "$1"
}

not_found() { respond "404 Not Found" "application/json" '{"error":"not found"}'; }

# --- request line, headers, body -----------------------------------------------------------
IFS= read -r -t 10 line || exit 0
line=${line%"$CR"}
method=${line%% *}
rest=${line#* }
target=${rest%% *}
len=0
while IFS= read -r -t 10 h; do
	h=${h%"$CR"}
	[ -z "$h" ] && break
	case $h in
	[Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh]:*)
		len=${h#*:}
		len=${len#"${len%%[! 	]*}"}
		case $len in '' | *[!0-9]*) len=0 ;; esac
		;;
	esac
done
# Drain a body so closing the socket does not turn into a TCP reset.
[ "$len" -gt 0 ] && head -c "$len" >/dev/null

path=${target%%\?*}
query=""
case $target in *\?*) query=${target#*\?} ;; esac

q_method="" q_format="" q_callback="" q_id="" q_infohash="" q_url="" q_pid=""
IFS='&'
for p in $query; do
	case $p in
	method=*) q_method=${p#*=} ;;
	format=*) q_format=${p#*=} ;;
	callback=*) q_callback=${p#*=} ;;
	id=* | content_id=*) q_id=${p#*=} ;;
	infohash=*) q_infohash=${p#*=} ;;
	url=* | magnet=*) q_url=${p#*=} ;;
	pid=*) q_pid=${p#*=} ;;
	esac
done
unset IFS
case $q_callback in *[!A-Za-z0-9_.]*) q_callback="" ;; esac

# A session id or infohash taken from a URL path: lowercase hex only, else "unknown".
is_hex() { case $1 in '' | *[!0-9a-f]*) return 1 ;; esac; }

unknown_session='{"response":null,"error":"unknown playback session id"}'

# /ace/stat/<infohash>/<session> and /ace/cmd/<infohash>/<session>: sets ih and sid, or answers.
session_from_path() { # PREFIX
	rest=${path#"$1"}
	ih=${rest%%/*}
	sid=${rest#*/}
	sid=${sid%/}
	if ! is_hex "$ih" || ! is_hex "$sid" || [ ! -f "$SESSIONS/$sid" ]; then
		json "$unknown_session"
	fi
	read -r stored_ih <"$SESSIONS/$sid"
	[ "$stored_ih" = "$ih" ] || json "$unknown_session"
}

start_stream() {
	key=$q_id
	[ -n "$key" ] || key=$q_infohash
	[ -n "$key" ] || key=$q_url
	if [ -z "$key" ]; then
		json '{"response":null,"error":"missing content id"}'
	fi
	ih=""
	if [ -n "$q_infohash" ] && [ ${#q_infohash} -eq 40 ]; then
		ih=$(printf %s "$q_infohash" | tr 'A-F' 'a-f')
		is_hex "$ih" || ih=""
	fi
	if [ -z "$ih" ]; then
		ih=$(printf %s "$key" | sha1sum)
		ih=${ih%% *}
	fi
	sid=$(hexdump -n 16 -e '16/1 "%02x"' /dev/urandom)
	printf '%s\n%s\n%s\n' "$ih" "$q_pid" "$key" >"$SESSIONS/$sid"
	base="http://127.0.0.1:$PORT"
	json "{\"response\":{\"playback_url\":\"$base/ace/r/$ih/$sid\",\"stat_url\":\"$base/ace/stat/$ih/$sid\",\"command_url\":\"$base/ace/cmd/$ih/$sid\",\"infohash\":\"$ih\",\"playback_session_id\":\"$sid\",\"is_live\":1,\"is_encrypted\":0,\"client_session_id\":1,\"bitrate\":500000},\"error\":null}"
}

case $method in GET | POST) ;; *) not_found ;; esac

case $path in
/webui/api/service)
	case $q_method in
	get_version) json '{"result":{"code":3002300,"version":"3.1.0-stand-in","platform":"linux","websocket_port":0},"error":null}' ;;
	*) json '{"result":null,"error":"unknown method"}' ;;
	esac
	;;
/server/api)
	case $q_method in
	get_status) json '{"result":{"status":"idle","peers":0,"speed_down":0,"speed_up":0},"error":null}' ;;
	get_network_connection_status) json '{"result":{"connected":true},"error":null}' ;;
	*) json '{"result":null,"error":"unknown method"}' ;;
	esac
	;;
/ace/getstream | /ace/getstream/ | /ace/manifest.m3u8)
	start_stream
	;;
/ace/stat/*/*)
	session_from_path /ace/stat/
	json '{"response":{"status":"dl","peers":3,"speed_down":512,"speed_up":64,"downloaded":1048576,"uploaded":65536},"error":null}'
	;;
/ace/cmd/*/*)
	session_from_path /ace/cmd/
	case $q_method in
	stop)
		rm -f "$SESSIONS/$sid"
		json '{"response":"ok","error":null}'
		;;
	*) json '{"response":null,"error":"unknown command"}' ;;
	esac
	;;
/ace/r/*/*)
	rest=${path#/ace/r/}
	sid=${rest#*/}
	if ! is_hex "$sid" || [ ! -f "$SESSIONS/$sid" ]; then
		not_found
	fi
	# One MPEG-TS null packet: enough for "playback started" checks.
	respond "200 OK" "video/mp2t" "$(printf '\107\037\377\020'; head -c 184 /dev/zero | tr '\0' '\377')"
	;;
/fake/info)
	read -r info <"$RUN/info.json"
	json "$info"
	;;
/fake/sessions)
	set +f
	out=""
	for f in "$SESSIONS"/*; do
		[ -f "$f" ] && out="$out${out:+,}\"${f##*/}\""
	done
	json "[$out]"
	;;
/fake/forget)
	set +f
	n=0
	for f in "$SESSIONS"/*; do
		[ -f "$f" ] && rm -f "$f" && n=$((n + 1))
	done
	json "{\"forgotten\":$n}"
	;;
esac
not_found
