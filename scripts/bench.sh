#!/usr/bin/env bash
# `npm run bench`: the benchmarks (docs/benchmarking.md says how they measure), then bench/summary.ts: one
# summary table with PASS/WARN/FAIL, and the run written to BENCH_OUT_DIR (default docs/): benchmarks.md,
# benchmarks-<plot>.svg, benchmarks.json.
# Exits 1 when a hard limit is exceeded (0 -> N engines above 1.5x the Engine API at its best concurrency,
# planning 1,000 engines at a median of 5 ms or more, replacement 1.5 s above a raw start, idle Docker
# calls above 12 a minute or any write, the soak's RSS growing 20 MB or descriptors 10, its loop delay
# p99 above 200 ms, a kill it made not replaced), 2 when a benchmark could not run at all; a missed goal
# within its hard limit (WARN) exits 0.
#
#   npm run bench                  every benchmark (plan, startup, replace, idle, soak; the soak alone
#                                  takes BENCH_SOAK_MINUTES, 30 by default)
#   npm run bench -- plan          only the named ones (plan needs no Docker)
#
# Env (docs/benchmarking.md): BENCH_ENGINES (the Ns of startup, 20,50), BENCH_ROUNDS (startup rounds, 7),
#      BENCH_WARMUP (unmeasured rounds, 1), BENCH_RELOADS (config reloads timed, 20), BENCH_PLAN_ITERATIONS
#      (2000), BENCH_PLAN_WARMUP (300), BENCH_LOG_LEVEL and BENCH_LOG_FILE (the startup controller's log
#      level, and a file to save its log to), BENCH_KILLS (replacements timed, 20), BENCH_MASS_KILL
#      (engines killed at once, 20), BENCH_IDLE_ENGINES (20,200), BENCH_IDLE_SECONDS (60),
#      BENCH_SOAK_MINUTES (30), BENCH_PORT_BASE (23000), BENCH_OUT_DIR (docs).
# Uses host ports BENCH_PORT_BASE..+999 and containers named bench*; removes everything it creates.
set -euo pipefail
cd "$(dirname "$0")/.."

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(plan startup replace idle soak)
for name in "${names[@]}"; do
	[ -f "bench/$name.bench.ts" ] || {
		echo "bench: no bench/$name.bench.ts" >&2
		exit 2
	}
done

[ -d node_modules ] || npm ci
results=$(mktemp /tmp/enginepool-bench.XXXXXX)
cleanup() { rm -f "$results"; }
if [ "${names[*]}" != plan ]; then
	# Why: stop dockerd at the end only if this run started it (others may be using a running one).
	if ! docker info >/dev/null 2>&1; then
		cleanup() {
			rm -f "$results"
			bash scripts/ensure-docker.sh --stop
		}
	fi
	bash scripts/ensure-docker.sh
fi
trap cleanup EXIT
# Why: on Ctrl-C the running bench file cleans up and exits; the ones after it must not start.
trap 'exit 130' INT TERM

npm run build --silent
[ "${names[*]}" = plan ] || bash scripts/build-images.sh engine

status=0
for name in "${names[@]}"; do
	echo
	echo "== bench/$name.bench.ts"
	if ! BENCH_RESULTS=$results npx tsx "bench/$name.bench.ts"; then
		echo "bench: bench/$name.bench.ts did not complete" >&2
		status=2
	fi
done
npx tsx bench/summary.ts "$results" "${names[@]}" || status=$((status > 0 ? status : 1))
exit $status
