#!/usr/bin/env bash
# meterd's ingest benchmark. Every figure is printed next to a reference measured in the same
# run on the same machine: /health for the HTTP ceiling, fdatasync for the durability ceiling,
# and a bare SQLite append of the same rows for the storage ceiling.
# Usage: bench/run.sh [BUILD_DIR]   (BENCH_SECONDS=10 per wrk run by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-64}
batch_conns=${BENCH_BATCH_CONNECTIONS:-8}
work=$(mktemp -d /tmp/meterd-bench.XXXXXX)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source bench/lib.sh

echo "== references"
read -r fsync_p50 fsync_p99 < <("$build/bench/fsync_probe" "$work" 300)
echo "fdatasync of a 4 KiB append: p50 ${fsync_p50} ms, p99 ${fsync_p99} ms" \
     "(one connection alone: at most $(awk -v f="$fsync_p50" 'BEGIN {printf "%.0f", 1000 / f}') durable acks/s)"
# The machine is shared and noisy: each reference is measured before and after the run it is
# compared with, and the ratio uses their mean.
bare_append() {
  local rows
  rows=$("$build/bench/sqlite_append" "$work/bare.db" 1000000 10000)
  rm -f "$work"/bare.db*
  echo "$rows"
}
bare_before=$(bare_append)

"$build/meterd" serve --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn \
  --set ingest.rate_limit_events_per_second=0 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do grep -q serving "$work/out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/out")
url="http://127.0.0.1:$port"

echo "== wrk, ${seconds}s each, load generator on the same 2 cores"
wrk -t2 -c"$conns" -d"${seconds}s" --latency "$url/health" >"$work/health"
wrk -t2 -c"$conns" -d"${seconds}s" --latency -s bench/track.lua "$url" >"$work/track"
TRACK_FORMAT=seed wrk -t2 -c"$conns" -d"${seconds}s" --latency -s bench/track.lua "$url" >"$work/seed"
wrk -t2 -c"$conns" -d"${seconds}s" --latency "$url/health" >"$work/health2"
wrk -t2 -c"$batch_conns" -d"${seconds}s" --latency -s bench/batch.lua "$url" >"$work/batch"

health_before=$(rps "$work/health")
health_after=$(rps "$work/health2")
health=$(awk -v a="$health_before" -v b="$health_after" 'BEGIN {printf "%.0f", (a + b) / 2}')
track=$(rps "$work/track")
seed=$(rps "$work/seed")
batch_events=$(awk -v r="$(rps "$work/batch")" 'BEGIN {printf "%.0f", r * 1000}')
kill "$pid"
wait "$pid" || true
pid=""
stored=$(sqlite3 "$work/data/meterd.db" "SELECT count(*) FROM usage_events")
bare_after=$(bare_append)
bare=$(awk -v a="$bare_before" -v b="$bare_after" 'BEGIN {printf "%.0f", (a + b) / 2}')
echo "bare SQLite append (same rows, WAL, synchronous=FULL, 10,000-row transactions):" \
     "${bare_before} rows/s before, ${bare_after} after"
echo "GET /health: ${health_before} req/s before /track, ${health_after} after"

printf "%-44s %12s %9s %9s %s\n" "what" "per second" "p50 ms" "p99 ms" "ratio to reference"
printf "%-44s %12.0f %9s %9s %s\n" "GET /health, ${conns} connections" "$health" "$(pct "$work/health" 50%)" \
  "$(pct "$work/health" 99%)" "(mean of before and after)"
printf "%-44s %12.0f %9s %9s %s\n" "POST /track (durable), ${conns} connections" "$track" "$(pct "$work/track" 50%)" \
  "$(pct "$work/track" 99%)" "$(ratio "$track" "$health") of /health"
printf "%-44s %12.0f %9s %9s %s\n" "POST /track, seed format (no id, 50 tenants)" "$seed" "$(pct "$work/seed" 50%)" \
  "$(pct "$work/seed" 99%)" "$(ratio "$seed" "$track") of /track with ids"
printf "%-44s %12.0f %9s %9s %s\n" "POST /v1/events x1000 events, ${batch_conns} conns" "$batch_events" \
  "$(pct "$work/batch" 50%)" "$(pct "$work/batch" 99%)" "$(ratio "$batch_events" "$bare") of bare SQLite"
echo "non-2xx answers: health $(non2xx "$work/health" || true) track $(non2xx "$work/track" || true) seed $(non2xx "$work/seed" || true) batch $(non2xx "$work/batch" || true) (empty = none)"
echo "events stored after the run: $stored"
echo "heap allocations per request (bench/alloc_per_request.py, counts, one connection):"
python3 bench/alloc_per_request.py "$build" | sed 's/^/  /'
