#!/usr/bin/env bash
# `npm run demo`: installs what is missing, makes sure Docker runs, builds the stand-in engine image,
# runs the controller on deploy/examples/demo.yaml and shows the pool converging, growing for a
# stream and shrinking back. The engines keep running afterwards (the next run adopts them).
#   npm run demo                  the walk-through, then the controller stops
#   npm run demo -- --keep        leave the controller running in the foreground (Ctrl-C stops it)
# Env: DEMO_LISTEN (default 127.0.0.1:8000, or a free port if that one is taken).
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
[ "${1:-}" = --keep ] && keep=true

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "dependencies, Docker and the stand-in engine image"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
bash scripts/ensure-docker.sh
bash scripts/build-images.sh engine

listen=${DEMO_LISTEN:-127.0.0.1:8000}
if ! node -e "const s=require('net').createServer();s.once('error',()=>process.exit(1));s.listen(${listen##*:},'${listen%:*}',()=>s.close())"; then
  listen=127.0.0.1:$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
fi
url=http://$listen
token=demo-token-$RANDOM$RANDOM
state=$(mktemp -d /tmp/enginepool-demo.XXXXXX)
log=$state/controller.log

step "starting the controller: ./bin/enginepool run --config deploy/examples/demo.yaml --listen $listen"
ENGINEPOOL_API_TOKEN=$token LOG_FORMAT=json ./bin/enginepool run --config deploy/examples/demo.yaml \
  --listen "$listen" --state-dir "$state" >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# Waits (up to $2 seconds) until the pool's JSON status satisfies the jq-free check in $1 (a JS expression on `p`).
wait_for() {
  local check=$1 deadline=$((SECONDS + ${2:-60}))
  until curl -sf "$url/api/v1/pools/demo" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const p=JSON.parse(s);process.exit(($check)?0:1)})" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "the pool did not get there in time; the controller's log is $log" >&2
      tail -20 "$log" >&2
      exit 1
    fi
    sleep 0.5
  done
}

step "converging from what Docker has to minFree=2 ready engines"
wait_for "p.replicas.ready >= 2 && p.replicas.free >= 2"
./bin/enginepool status --url "$url"

step "a proxy opens a stream (POST /api/v1/pools/demo/acquire): the pool grows to keep 2 free"
stream=$(curl -sf -X POST -H "Authorization: Bearer $token" "$url/api/v1/pools/demo/acquire" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const r=JSON.parse(s);console.log(r.streamId+' '+r.engine.name+' '+r.engine.host+':'+r.engine.port)})")
read -r stream_id stream_engine stream_at <<<"$stream"
echo "stream $stream_id on $stream_engine at $stream_at"
wait_for "p.replicas.used === 1 && p.replicas.free >= 2"
./bin/enginepool status --url "$url"

step "the stream ends: after scaleDownDelaySeconds (10 s) the pool shrinks back"
curl -sf -X DELETE -H "Authorization: Bearer $token" "$url/api/v1/pools/demo/engines/$stream_engine/streams/$stream_id" >/dev/null
wait_for "p.replicas.used === 0 && p.replicas.total === 2" 60
./bin/enginepool status --url "$url"

step "what the controller did (one log line per action, with its reason)"
grep -o '"msg":"\(create\|remove\|restart\) [^"]*"' "$log" | sed 's/"msg":"\(.*\)"/  \1/' || true

if $keep; then
  step "the controller keeps running at $url (token: $token); edit deploy/examples/demo.yaml and watch. Ctrl-C stops it."
  trap - EXIT
  wait "$pid"
  exit 0
fi

step "done"
cat <<EOF
The engines keep running; the next \`npm run demo\` adopts them. To remove them:
  docker rm -f \$(docker ps -aq --filter label=io.enginepool.pool=demo)
EOF
