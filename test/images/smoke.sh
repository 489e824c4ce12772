#!/usr/bin/env bash
# Smoke test of the stand-in images (run by hand: bash test/images/smoke.sh).
# Builds both images, exercises every engine route and mode, the gluetun stand-in as a network
# namespace donor, fakectl, the auth modes, and the "gluetun restarted" breakage; prints timings.
# Uses containers named imgsmoke-* and host ports 19100-19112, 18000-18001; removes them at exit.
# Needs docker, curl and node on the host.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENGINE=enginepool/stand-in-engine:dev
GLUETUN=enginepool/stand-in-gluetun:dev
P=imgsmoke
fails=0

cleanup() {
	local ids
	ids=$(docker ps -aq --filter "name=^${P}-")
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	return 0
}
trap cleanup EXIT
cleanup

ok() { echo "  ok   $*"; }
bad() {
	echo "  FAIL $*"
	fails=$((fails + 1))
}
check() { # DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
section() { echo "== $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
is_json() { node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))' 2>/dev/null <<<"$1"; }
jget() { node -e 'const v = process.argv[2].split(".").reduce((o, k) => o?.[k], JSON.parse(process.argv[1])); console.log(typeof v === "object" ? JSON.stringify(v) : String(v))' "$1" "$2"; }
# expect URL EXACT-BODY: 200, JSON-valid (or plain when the expected body is not JSON), exact.
expect() {
	local body code
	body=$(curl -s -m 5 -w '\n%{http_code}' "${@:3}" "$1")
	code=${body##*$'\n'}
	body=${body%$'\n'*}
	body=${body%$'\n'} # gluetun bodies end in "\n" (checked separately)
	if [ "$body" = "$2" ] && { ! is_json "$2" || is_json "$body"; }; then
		ok "$1 -> $code $body"
	else
		bad "$1 -> $code '$body' (expected '$2')"
	fi
}
# expect_code CODE URL [curl args...]: status code only; prints the body.
expect_code() {
	local code=$1 url=$2 out got
	shift 2
	out=$(curl -s -m 5 -w '\n%{http_code}' "$@" "$url")
	got=${out##*$'\n'}
	out=${out%$'\n'*}
	if [ "$got" = "$code" ]; then ok "$* $url -> $got $(tr -d '\n' <<<"$out")"; else bad "$* $url -> $got (expected $code) $out"; fi
}
wait_http() { # URL TIMEOUT_S: poll every 10 ms until an HTTP answer
	local deadline=$(($(now_ms) + $2 * 1000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		curl -s -o /dev/null -m 1 "$1" && return 0
		sleep 0.01
	done
	return 1
}
exit_code() { docker inspect -f '{{.State.ExitCode}}' "$1"; }

section "build"
t0=$(now_ms)
bash "$ROOT/scripts/build-images.sh" --force || exit 1
t1=$(now_ms)
bash "$ROOT/scripts/build-images.sh" || exit 1
t2=$(now_ms)
echo "  forced build of both images: $((t1 - t0)) ms; up-to-date check: $((t2 - t1)) ms"
docker image inspect -f '  {{index .RepoTags 0}} {{.Size}} bytes, hash {{index .Config.Labels "io.enginepool.test.content-hash"}}' $ENGINE $GLUETUN

section "engine routes (--http-port=19100 published as 19100)"
t0=$(now_ms)
docker run -d --name $P-engine -p 19100:19100 $ENGINE --http-port=19100 --bind-all --disable-sentry --live-cache-type memory >/dev/null
wait_http http://127.0.0.1:19100/webui/api/service?method=get_version 10
t1=$(now_ms)
echo "  docker run -d -> first HTTP answer: $((t1 - t0)) ms"
E=http://127.0.0.1:19100
expect "$E/webui/api/service?method=get_version" '{"result":{"code":3002300,"version":"3.1.0-stand-in","platform":"linux","websocket_port":0},"error":null}'
expect "$E/server/api?api_version=3&method=get_status" '{"result":{"status":"idle","peers":0,"speed_down":0,"speed_up":0},"error":null}'
expect "$E/server/api?api_version=3&method=get_network_connection_status" '{"result":{"connected":true},"error":null}'
expect "$E/ace/getstream?format=json" '{"response":null,"error":"missing content id"}'
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$E/server/api?method=get_status")
check "Content-Type application/json ($ctype)" [ "$ctype" = application/json ]
info=$(curl -s $E/fake/info)
check "/fake/info is JSON: $info" is_json "$info"
check "/fake/info httpPort=19100 bindAll=true" [ "$(jget "$info" httpPort)/$(jget "$info" bindAll)/$(jget "$info" apiPort)/$(jget "$info" p2pPort)" = 19100/true/62062/8621 ]
check "/fake/info args recorded" [ "$(jget "$info" args)" = '["--http-port=19100","--bind-all","--disable-sentry","--live-cache-type","memory"]' ]
for form in "getstream?id=0123456789abcdef0123456789abcdef01234567&format=json&pid=p1" \
	"getstream?content_id=abc&format=json" "getstream?infohash=ABCDEF0123456789ABCDEF0123456789ABCDEF01&format=json" \
	"manifest.m3u8?id=feed&format=json"; do
	r=$(curl -s "$E/ace/$form")
	if ! is_json "$r" || [ "$(jget "$r" error)" != null ]; then
		bad "/ace/$form -> $r"
		continue
	fi
	ih=$(jget "$r" response.infohash)
	sid=$(jget "$r" response.playback_session_id)
	stat=$(jget "$r" response.stat_url)
	cmd=$(jget "$r" response.command_url)
	play=$(jget "$r" response.playback_url)
	check "/ace/$form -> infohash $ih session $sid" [ ${#ih} = 40 -a "$stat" = "$E/ace/stat/$ih/$sid" -a "$cmd" = "$E/ace/cmd/$ih/$sid" -a "$play" = "$E/ace/r/$ih/$sid" ]
done
check "infohash= is kept (lowercased)" [ "$(jget "$(curl -s "$E/ace/getstream?infohash=ABCDEF0123456789ABCDEF0123456789ABCDEF01&format=json")" response.infohash)" = abcdef0123456789abcdef0123456789abcdef01 ]
expect "$stat" '{"response":{"status":"dl","peers":3,"speed_down":512,"speed_up":64,"downloaded":1048576,"uploaded":65536},"error":null}'
check "playback URL serves 188 bytes of MPEG-TS" [ "$(curl -s "$play" | wc -c)" = 188 ]
sessions=$(curl -s $E/fake/sessions)
check "/fake/sessions lists $sid" grep -q "\"$sid\"" <<<"$sessions"
expect "$cmd?method=stop" '{"response":"ok","error":null}'
expect "$stat" '{"response":null,"error":"unknown playback session id"}'
expect "$cmd?method=stop" '{"response":null,"error":"unknown playback session id"}'
expect "$E/ace/stat/0123/../../etc" '{"response":null,"error":"unknown playback session id"}' --path-as-is
n=$(jget "$(curl -s $E/fake/sessions)" length)
expect "$E/fake/forget" "{\"forgotten\":$n}" -X POST
expect "$E/fake/forget" '{"forgotten":0}'
expect "$E/fake/sessions" '[]'
expect_code 404 "$E/nope"
expect "$E/webui/api/service?method=get_version&format=jsonp&callback=cb" 'cb({"result":{"code":3002300,"version":"3.1.0-stand-in","platform":"linux","websocket_port":0},"error":null});'
check "TCP API answers HELLOTS" bash -c "docker exec $P-engine sh -c 'printf \"HELLOBG version=4\\r\\n\" | nc 127.0.0.1 62062' | grep -q '^HELLOTS .*http_port=19100'"

section "engine latency"
times=$(for _ in $(seq 100); do curl -s -o /dev/null -w '%{time_total}\n' "$E/server/api?api_version=3&method=get_status"; done | sort -n)
echo "  100 sequential get_status: $(awk '{a[NR] = $1 * 1000} END { printf "min %.1f ms, median %.1f ms, p95 %.1f ms, max %.1f ms", a[1], a[int(NR / 2)], a[int(NR * 0.95)], a[NR] }' <<<"$times")"
t0=$(now_ms)
codes=$(for _ in $(seq 50); do curl -s -o /dev/null -w '%{http_code}\n' "$E/server/api?method=get_status" & done; wait)
t1=$(now_ms)
check "50 concurrent requests all 200 (in $((t1 - t0)) ms)" [ "$(grep -c '^200$' <<<"$codes")" = 50 ]
# A 250 ms probe loop in the background while a stream starts and stops.
(for _ in $(seq 20); do curl -s -o /dev/null -m 1 "$E/server/api?method=get_status"; sleep 0.25; done) &
probe=$!
for _ in $(seq 10); do
	r=$(curl -s -m 2 "$E/ace/getstream?id=x$RANDOM&format=json")
	curl -s -m 2 -o /dev/null "$(jget "$r" response.command_url)?method=stop"
done
wait $probe
check "sessions cleaned up under probe load" [ "$(curl -s $E/fake/sessions)" = '[]' ]

section "engine lifecycle"
t0=$(now_ms)
docker stop $P-engine >/dev/null
t1=$(now_ms)
check "docker stop took $((t1 - t0)) ms, exit code $(exit_code $P-engine)" [ $((t1 - t0)) -lt 3000 -a "$(exit_code $P-engine)" = 0 ]
t0=$(now_ms)
docker start $P-engine >/dev/null
t1=$(now_ms)
wait_http "$E/webui/api/service?method=get_version" 10
t2=$(now_ms)
echo "  docker start returned after $((t1 - t0)) ms; first HTTP answer after $((t2 - t0)) ms"
check "restart forgets sessions" [ "$(curl -s $E/fake/sessions)" = '[]' ]
docker pause $P-engine >/dev/null
code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$E/server/api?method=get_status")
rc=$?
check "paused engine: request times out (curl rc $rc, code $code)" [ $rc = 28 ]
docker unpause $P-engine >/dev/null
expect "$E/server/api?api_version=3&method=get_network_connection_status" '{"result":{"connected":true},"error":null}'

section "engine modes"
docker run --name $P-crash -e FAKE_MODE=crash $ENGINE >/dev/null 2>&1
check "crash: exit code $(exit_code $P-crash), stderr: $(docker logs $P-crash 2>&1 | tail -1)" [ "$(exit_code $P-crash)" = 1 ]
docker run -d --name $P-never -p 19101:19101 -e FAKE_MODE=never-ready $ENGINE --http-port 19101 >/dev/null
sleep 2
curl -s -m 2 -o /dev/null "http://127.0.0.1:19101/webui/api/service?method=get_version"
rc=$?
check "never-ready: running=$(docker inspect -f '{{.State.Running}}' $P-never), HTTP fails (curl rc $rc; 56 = reset via docker-proxy)" [ $rc != 0 -a "$(docker inspect -f '{{.State.Running}}' $P-never)" = true ]
check "never-ready: TCP API says NOTREADY" bash -c "docker exec $P-never sh -c 'printf \"HELLOBG version=4\\r\\n\" | nc 127.0.0.1 62062' | grep -q NOTREADY"
t0=$(now_ms)
docker run -d --name $P-delay -p 19102:19102 -e FAKE_STARTUP_DELAY=3 $ENGINE --http-port 19102 >/dev/null
wait_http "http://127.0.0.1:19102/webui/api/service?method=get_version" 10
t1=$(now_ms)
check "FAKE_STARTUP_DELAY=3: first answer after $((t1 - t0)) ms" [ $((t1 - t0)) -ge 3000 -a $((t1 - t0)) -lt 5000 ]
t0=$(now_ms)
docker run -d --name $P-exit -p 19103:19103 -e FAKE_MODE=exit-after:2 $ENGINE --http-port 19103 >/dev/null
wait_http "http://127.0.0.1:19103/webui/api/service?method=get_version" 5
check "exit-after:2 serves" curl -sf -o /dev/null "http://127.0.0.1:19103/server/api?method=get_status"
code=$(docker wait $P-exit)
t1=$(now_ms)
check "exit-after:2: exit code $code after $((t1 - t0)) ms" [ "$code" = 3 ]
docker run -d --name $P-hang -p 19104:19104 -e FAKE_MODE=hang $ENGINE --http-port 19104 >/dev/null
sleep 0.5
curl -s -m 1 -o /dev/null "http://127.0.0.1:19104/server/api?method=get_status"
rc=$?
check "hang: request times out (curl rc $rc)" [ $rc = 28 ]
t0=$(now_ms)
docker stop $P-never $P-delay $P-hang >/dev/null
t1=$(now_ms)
check "SIGTERM stops 3 engines in $((t1 - t0)) ms" [ $((t1 - t0)) -lt 3000 ]
docker run --name $P-badarg $ENGINE --http-port nope >/dev/null 2>&1
check "invalid --http-port: exit 1 ($(docker logs $P-badarg 2>&1 | tail -1))" [ "$(exit_code $P-badarg)" = 1 ]

section "gluetun stand-in as namespace donor (19110-19112 and 8000->18000 published)"
G=$P-gluetun
docker run -d --name $G -p 19110-19112:19110-19112 -p 18000:8000 -e FAKE_FORWARDED_PORT=40123 \
	--health-interval 1s --health-start-period 0s $GLUETUN >/dev/null
C=http://127.0.0.1:18000
wait_http $C/v1/version 5
docker run -d --name $P-ve1 --network container:$G $ENGINE --http-port 19110 --api-port 19120 --port 40123 --bind-all >/dev/null
docker run -d --name $P-ve2 --network container:$G $ENGINE --http-port=19111 --api-port=19121 --port=19131 --bind-all >/dev/null
wait_http http://127.0.0.1:19110/fake/info 5
wait_http http://127.0.0.1:19111/fake/info 5
check "engine 1 via gluetun's published 19110" [ "$(jget "$(curl -s http://127.0.0.1:19110/fake/info)" p2pPort)" = 40123 ]
check "engine 2 via gluetun's published 19111" [ "$(jget "$(curl -s http://127.0.0.1:19111/fake/info)" httpPort)" = 19111 ]
check "engines see gluetun's control server on 127.0.0.1:8000" bash -c "docker exec $P-ve1 wget -qO- http://127.0.0.1:8000/v1/portforward | grep -q 40123"
check "engines see gluetun's health server on 127.0.0.1:9999" docker exec $P-ve1 wget -qO /dev/null http://127.0.0.1:9999/
for c in "http:--http-port 19110 --api-port 19122 --port 19132" "p2p:--http-port 19112 --api-port 19123 --port 19131" \
	"api:--http-port 19112 --api-port 19120 --port 19133" "control:--http-port 8000 --api-port 19124 --port 19134"; do
	docker run --name $P-clash --network container:$G $ENGINE ${c#*:} >/dev/null 2>&1
	check "port clash (${c%%:*}): exit $(exit_code $P-clash): $(docker logs $P-clash 2>&1 | tail -1)" [ "$(exit_code $P-clash)" = 1 ]
	docker rm $P-clash >/dev/null
done
for _ in $(seq 30); do
	[ "$(docker inspect -f '{{.State.Health.Status}}' $G)" = healthy ] && break
	sleep 0.2
done
check "gluetun Docker health: $(docker inspect -f '{{.State.Health.Status}}' $G)" [ "$(docker inspect -f '{{.State.Health.Status}}' $G)" = healthy ]

section "gluetun control server routes (FAKE_AUTH=none)"
expect $C/v1/version '{"version":"v3.41.1","commit":"stand-in","created":"2026-02-11T00:00:00Z"}'
expect $C/v1/vpn/status '{"status":"running"}'
expect $C/v1/vpn/status/ '{"status":"running"}'
expect $C/v1/openvpn/status '{"status":"running"}'
expect $C/v1/publicip/ip '{"public_ip":"203.0.113.7","country":"Testland"}'
expect $C/v1/portforward '{"port":40123}'
ctype=$(curl -s -o /dev/null -w '%{content_type}' $C/v1/portforward)
check "Content-Type '$ctype' and trailing newline" [ "$ctype" = "text/plain; charset=utf-8" -a "$(curl -s $C/v1/portforward | tail -c1 | od -An -c | tr -d ' ')" = '\n' ]
expect_code 301 $C/v1/openvpn/portforwarded
check "301 Location" bash -c "curl -s -D - -o /dev/null $C/v1/openvpn/portforwarded | grep -qi '^location: /v1/portforward'"
expect $C/v1/xyz 'GET /xyz not found'
expect_code 400 $C/v1/xyz
expect $C/v1/vpn/xyz 'route /xyz not supported'
expect "$C/v1/publicip/ip?api_key=K" 'route /ip?api_key=K not supported'
expect $C/v1/vpn/status 'method DELETE not supported' -X DELETE
expect $C/v1/vpn/status '{"outcome":"already running"}' -X PUT -d '{"status":"running"}'
expect $C/v1/vpn/status 'invalid status: bogus: possible values are: stopped, running' -X PUT -d '{"status":"bogus"}'
expect_code 400 $C/v1/vpn/status -X PUT -d '{"status":"bogus"}'
expect $C/v1/vpn/status '{"outcome":"stopped"}' -X PUT -d '{"status":"stopped"}'
expect $C/v1/publicip/ip '{"public_ip":""}'
expect $C/v1/portforward '{"port":0}'
check "stopped: health server 500" bash -c "! docker exec $P-ve1 wget -qO /dev/null http://127.0.0.1:9999/ 2>/dev/null"
expect $C/v1/openvpn/status '{"outcome":"running"}' -X PUT -d '{"status":"running"}'
expect $C/v1/publicip/ip '{"public_ip":"203.0.113.7","country":"Testland"}'
expect $C/v1/portforward '{"port":40123}'

section "fakectl"
fk() { docker exec $G fakectl "$@"; }
check "down: $(fk down)" [ "$(curl -s $C/v1/vpn/status)" = '{"status":"stopped"}' -a "$(curl -s $C/v1/portforward)" = '{"port":0}' -a "$(curl -s $C/v1/publicip/ip)" = '{"public_ip":""}' ]
check "down: health server 500" bash -c "! docker exec $P-ve1 wget -qO /dev/null http://127.0.0.1:9999/ 2>/dev/null"
check "up: $(fk up)" [ "$(curl -s $C/v1/portforward)" = '{"port":40123}' -a "$(curl -s $C/v1/publicip/ip)" = '{"public_ip":"203.0.113.7","country":"Testland"}' ]
check "up 41000: $(fk up 41000)" [ "$(curl -s $C/v1/portforward)" = '{"port":41000}' ]
check "port 42000: $(fk port 42000)" [ "$(curl -s $C/v1/portforward)" = '{"port":42000}' ]
check "unhealthy: $(fk unhealthy)" bash -c "! docker exec $P-ve1 wget -qO /dev/null http://127.0.0.1:9999/ 2>/dev/null"
for _ in $(seq 50); do
	[ "$(docker inspect -f '{{.State.Health.Status}}' $G)" = unhealthy ] && break
	sleep 0.2
done
check "Docker health turns unhealthy" [ "$(docker inspect -f '{{.State.Health.Status}}' $G)" = unhealthy ]
check "healthy: $(fk healthy)" docker exec $P-ve1 wget -qO /dev/null http://127.0.0.1:9999/
check "port none: $(fk port none)" [ "$(curl -s $C/v1/portforward)" = '{"port":0}' ]
check "show: $(fk show)" is_json "$(fk show)"
check "unknown subcommand exits 2" bash -c "docker exec $G fakectl bogus 2>/dev/null; [ \$? = 2 ]"

section "gluetun auth modes and versions (8000 -> 18001)"
A=http://127.0.0.1:18001
ga() {
	docker rm -f $P-ga >/dev/null 2>&1
	docker run -d --name $P-ga -p 18001:8000 -e FAKE_FORWARDED_PORT=5555 "$@" $GLUETUN >/dev/null
	wait_http $A/ 5
}
ga -e FAKE_AUTH=apikey:s3cret
expect $A/v1/version Unauthorized
expect_code 401 $A/v1/publicip/ip
expect_code 401 $A/v1/version -H 'X-API-Key: wrong'
expect_code 200 $A/v1/version -H 'X-API-Key: s3cret'
expect_code 200 $A/v1/portforward -H 'X-API-Key: s3cret'
expect_code 200 "$A/v1/portforward?api_key=s3cret"
ga -e FAKE_AUTH=public-defaults
for r in /v1/version /v1/vpn/status /v1/openvpn/status /v1/publicip/ip /v1/portforward; do expect_code 200 $A$r; done
expect_code 200 $A/v1/vpn/status -X PUT -d '{"status":"running"}'
expect_code 301 $A/v1/openvpn/portforwarded
expect_code 401 $A/v1/vpn/settings
expect_code 401 $A/v1/nonexistent
ga -e FAKE_AUTH=portforward-protected:s3cret
expect_code 401 $A/v1/portforward
expect_code 401 $A/v1/openvpn/portforwarded
expect $A/v1/portforward '{"port":5555}' -H 'X-API-Key: s3cret'
expect_code 200 $A/v1/publicip/ip
expect_code 400 $A/v1/nonexistent
ga -e FAKE_GLUETUN_VERSION=v3.40
expect $A/v1/portforward 'GET /portforward not found'
expect_code 400 $A/v1/portforward
expect $A/v1/openvpn/portforwarded '{"port":5555}'
ga -e FAKE_GLUETUN_VERSION=v3.40 -e FAKE_AUTH=public-defaults
expect_code 401 $A/v1/portforward
expect_code 200 $A/v1/openvpn/portforwarded
ga -e FAKE_HEALTH_START_DELAY=3
check "FAKE_HEALTH_START_DELAY: 'healthcheck did not run yet'" bash -c "docker exec $P-ga wget -qO- http://127.0.0.1:9999/ 2>&1 | grep -q 'HTTP/1.1 500'"
sleep 3.2
check "FAKE_HEALTH_START_DELAY: healthy after the delay" docker exec $P-ga wget -qO /dev/null http://127.0.0.1:9999/
t0=$(now_ms)
docker stop $P-ga >/dev/null
t1=$(now_ms)
check "gluetun stand-in docker stop: $((t1 - t0)) ms, exit $(exit_code $P-ga)" [ $((t1 - t0)) -lt 3000 ]
times=$(for _ in $(seq 100); do curl -s -o /dev/null -w '%{time_total}\n' $C/v1/portforward; done | sort -n)
echo "  control server, 100 sequential GET /v1/portforward: $(awk '{a[NR] = $1 * 1000} END { printf "min %.1f ms, median %.1f ms, p95 %.1f ms, max %.1f ms", a[1], a[int(NR / 2)], a[int(NR * 0.95)], a[NR] }' <<<"$times")"

section "gluetun restart breaks the engines; restarting an engine heals it"
docker restart $G >/dev/null
wait_http $C/v1/version 5
curl -s -m 2 -o /dev/null http://127.0.0.1:19110/fake/info
rc=$?
check "after gluetun restart engine 1 unreachable (curl rc $rc), engine still running=$(docker inspect -f '{{.State.Running}}' $P-ve1)" [ $rc != 0 ]
check "engine 1 only has lo now: $(docker exec $P-ve1 ip -o link | awk '{print $2}' | tr '\n' ' ')" bash -c "[ \"\$(docker exec $P-ve1 ip -o link | wc -l)\" = 1 ]"
t0=$(now_ms)
docker restart $P-ve1 >/dev/null
wait_http http://127.0.0.1:19110/fake/info 5
t1=$(now_ms)
check "docker restart of engine 1 heals it ($((t1 - t0)) ms to first answer)" curl -sf -o /dev/null http://127.0.0.1:19110/fake/info
curl -s -m 2 -o /dev/null http://127.0.0.1:19111/fake/info
check "engine 2 (not restarted) still unreachable" [ $? != 0 ]

echo
if [ $fails = 0 ]; then echo "smoke: all checks passed"; else echo "smoke: $fails check(s) FAILED"; fi
exit $((fails > 0))
