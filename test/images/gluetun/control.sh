#!/bin/sh
# Stand-in Gluetun: control server handler (HTTP_CONTROL_SERVER_ADDRESS, default :8000), run by
# `nc -ll -e` once per connection. Mirrors gluetun's routing (internal/server/*.go): auth first
# (on the path without the query), then one trailing "/" trimmed from the request URI *with* its
# query, then exact sub-route matching. Bodies: JSON + "\n" or plain text + "\n", always sent as
# text/plain; charset=utf-8 like Go's sniffing does.

set -f
. /usr/local/lib/stand-in/state.sh
CR=$'\r' # busybox ash supports $'...'; no fork
LOGGING=1
case ${HTTP_CONTROL_SERVER_LOG:-on} in off | false | no | 0) LOGGING=0 ;; esac

method="-"
uri="-"
send() { # STATUS BODY [EXTRA-HEADER-LINES]
	[ "$LOGGING" = 1 ] && echo "http server: ${1%% *} $method $uri" >&2
	printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"$1" "${CTYPE:-text/plain; charset=utf-8}" "${3:-}" "${#2}" "$2"
	exit 0
}
ok_json() { send "200 OK" "$1
"; }
# Go's http.Error: text/plain, X-Content-Type-Options: nosniff, message + "\n".
http_error() { # STATUS MESSAGE
	send "$1" "$2
" "X-Content-Type-Options: nosniff$CR
"
}
bad_request() { http_error "400 Bad Request" "$1"; }
unauthorized() { http_error "401 Unauthorized" "Unauthorized"; }

# --- request ------------------------------------------------------------------------------
IFS= read -r -t 10 line || exit 0
line=${line%"$CR"}
method=${line%% *}
rest=${line#* }
target=${rest%% *}
uri=$target
len=0
apikey_header=""
while IFS= read -r -t 10 h; do
	h=${h%"$CR"}
	[ -z "$h" ] && break
	val=${h#*:}
	val=${val#"${val%%[! 	]*}"}
	case $h in
	[Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh]:*)
		len=$val
		case $len in '' | *[!0-9]*) len=0 ;; esac
		;;
	[Xx]-[Aa][Pp][Ii]-[Kk][Ee][Yy]:*) apikey_header=$val ;;
	esac
done
body=""
[ "$len" -gt 0 ] && body=$(head -c "$len")

path=${target%%\?*}
query=""
case $target in *\?*) query=${target#*\?} ;; esac

# --- auth (FAKE_AUTH) --------------------------------------------------------------------
V340=0
case ${FAKE_GLUETUN_VERSION:-v3.41} in v3.40* | 3.40*) V340=1 ;; esac

key_ok() { # KEY: X-API-Key header, falling back to the api_key query parameter
	[ -n "$1" ] || return 1
	[ "$apikey_header" = "$1" ] && return 0
	[ -z "$apikey_header" ] || return 1
	IFS='&'
	for p in $query; do
		case $p in api_key=*) [ "${p#api_key=}" = "$1" ] && {
			unset IFS
			return 0
		} ;; esac
	done
	unset IFS
	return 1
}

# Routes gluetun covers with its built-in "public" role when no role is configured.
is_public_route() {
	case "$method $path" in
	"GET /v1/version" | "GET /v1/vpn/status" | "PUT /v1/vpn/status" | \
		"GET /v1/openvpn/status" | "PUT /v1/openvpn/status" | \
		"GET /v1/dns/status" | "PUT /v1/dns/status" | "GET /v1/updater/status" | "PUT /v1/updater/status" | \
		"GET /v1/publicip/ip" | "GET /v1/openvpn/portforwarded" | \
		"GET /openvpn/actions/restart" | "GET /unbound/actions/restart" | "GET /updater/restart")
		return 0
		;;
	"GET /v1/portforward" | "GET /openvpn/portforwarded") [ "$V340" = 0 ] ;;
	*) return 1 ;;
	esac
}

AUTH=${FAKE_AUTH:-none}
case $AUTH in
none) ;;
apikey:*) key_ok "${AUTH#apikey:}" || unauthorized ;;
public-defaults) is_public_route || unauthorized ;;
portforward-protected:*)
	case $path in
	/v1/portforward | /v1/openvpn/portforwarded) key_ok "${AUTH#portforward-protected:}" || unauthorized ;;
	esac
	;;
*) http_error "500 Internal Server Error" "stand-in: invalid FAKE_AUTH" ;;
esac

# --- routing ------------------------------------------------------------------------------
uri=${target%/}

not_supported_method() { bad_request "method $method not supported"; }

get_status_json() {
	st_get status
	ok_json "{\"status\":\"$v\"}"
}

# PUT {"status":"running"|"stopped"}
put_status() {
	new=$(printf '%s' "$body" | sed -n 's/.*"status"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
	case $body in
	'') bad_request "EOF" ;;
	*\{*) ;;
	*) bad_request "invalid character '${body%"${body#?}"}' looking for beginning of value" ;;
	esac
	st_get status
	cur=$v
	case $new in
	running)
		[ "$cur" = running ] && ok_json '{"outcome":"already running"}'
		vpn_start
		st_set healthy 1
		ok_json '{"outcome":"running"}'
		;;
	stopped)
		[ "$cur" = stopped ] && ok_json '{"outcome":"already stopped"}'
		vpn_stop
		ok_json '{"outcome":"stopped"}'
		;;
	*) bad_request "invalid status: $new: possible values are: stopped, running" ;;
	esac
}

port_json() {
	st_get port
	ok_json "{\"port\":${v:-0}}"
}

redirect() { # STATUS LOCATION TEXT (Go's http.Redirect for GET)
	CTYPE="text/html; charset=utf-8" send "$1" "<a href=\"$2\">$3</a>.

" "Location: $2$CR
"
}

case $uri in
/v1/* | /v1) u=${uri#/v1} ;;
*)
	# v0 (unversioned) API
	[ "$method" = GET ] || bad_request "unversioned API: only supports GET method"
	case $uri in
	/version) redirect "308 Permanent Redirect" /v1/version "Permanent Redirect" ;;
	/openvpn/portforwarded)
		if [ "$V340" = 1 ]; then
			redirect "308 Permanent Redirect" /v1/openvpn/portforwarded "Permanent Redirect"
		else
			redirect "308 Permanent Redirect" /v1/portforward "Permanent Redirect"
		fi
		;;
	/openvpn/actions/restart)
		vpn_stop
		vpn_start
		send "200 OK" "openvpn restarted, please consider using the /v1/ API in the future."
		;;
	*) http_error "404 Not Found" "unversioned API: requested URI not found" ;;
	esac
	;;
esac

case $u in
/version)
	[ "$method" = GET ] || bad_request "$method $u not found"
	if [ "$V340" = 1 ]; then
		ok_json '{"version":"v3.40.0","commit":"stand-in","created":"2026-02-11T00:00:00Z"}'
	fi
	ok_json '{"version":"v3.41.1","commit":"stand-in","created":"2026-02-11T00:00:00Z"}'
	;;
/vpn*)
	sub=${u#/vpn}
	case $sub in
	/status)
		case $method in GET) get_status_json ;; PUT) put_status ;; *) not_supported_method ;; esac
		;;
	/settings)
		case $method in
		GET) ok_json '{"type":"wireguard","provider":{"name":"stand-in"}}' ;;
		PUT) send "200 OK" "settings left unchanged" ;;
		*) not_supported_method ;;
		esac
		;;
	*) bad_request "route $sub not supported" ;;
	esac
	;;
/openvpn*)
	sub=${u#/openvpn}
	case $sub in
	/status)
		case $method in GET) get_status_json ;; PUT) put_status ;; *) not_supported_method ;; esac
		;;
	/portforwarded)
		[ "$method" = GET ] || not_supported_method
		[ "$V340" = 1 ] && port_json
		redirect "301 Moved Permanently" /v1/portforward "Moved Permanently"
		;;
	/settings)
		[ "$method" = GET ] || not_supported_method
		ok_json '{"user":"redacted","password":"redacted"}'
		;;
	*) bad_request "route $sub not supported" ;;
	esac
	;;
/publicip*)
	sub=${u#/publicip}
	case $sub in
	/ip)
		[ "$method" = GET ] || not_supported_method
		st_get public_ip
		if [ -n "$v" ]; then
			ok_json "{\"public_ip\":\"$v\",\"country\":\"Testland\"}"
		fi
		ok_json '{"public_ip":""}'
		;;
	*) bad_request "route $sub not supported" ;;
	esac
	;;
/portforward*)
	# Added in v3.41; the handler does not look at sub-paths (hence ?api_key=K works here).
	[ "$V340" = 1 ] && bad_request "$method $u not found"
	[ "$method" = GET ] || not_supported_method
	port_json
	;;
esac
bad_request "$method $u not found"
