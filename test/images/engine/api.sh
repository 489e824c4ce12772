#!/bin/sh
# Stand-in AceStream engine: TCP API handler (--api-port), run by `nc -ll -e` per connection.
# Answers the handshake `HELLOBG version=N` with `HELLOTS ...` once the engine is ready
# (after FAKE_STARTUP_DELAY) and with `NOTREADY` before that / in never-ready and hang modes.
# Other lines are ignored; `SHUTDOWN` or EOF or 30 s of silence ends the connection.

CR=$'\r' # busybox ash supports $'...'; no fork
while IFS= read -r -t 30 line; do
	line=${line%"$CR"}
	case $line in
	HELLOBG*)
		if [ -f /tmp/stand-in/ready ]; then
			printf 'HELLOTS version=3.1.0-stand-in version_code=3002300 key=stand-in http_port=%s api_port=%s bmode=0\r\n' \
				"${ENGINE_HTTP_PORT:-6878}" "${ENGINE_API_PORT:-62062}"
		else
			printf 'NOTREADY\r\n'
		fi
		;;
	SHUTDOWN*) exit 0 ;;
	esac
done
exit 0
