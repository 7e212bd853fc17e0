#!/usr/bin/env bash
# meterd on PostgreSQL against a raw COPY of the same rows, measured in the same run on a private
# PostgreSQL (scripts/postgres-test-server), loopback, load generator on the same 2 cores.
#   one node:   wrk posting /v1/events (1,000 events per request, 8 connections) to one meterd
#   raw COPY:   psql \copy of the rows meterd stored into a table with the same unique key
#   floor:      what any exactly-once design writes at least: the ids into a table with that key
#               and the events into a table of their own (two \copy runs, timed together)
#   two nodes:  the same load split over two meterd nodes on the same database
#   /track:     p99 at 64 connections through one node; /quota/check p99 beside it
# Usage: bench/postgres.sh [BUILD_DIR]   (BENCH_SECONDS=5 per wrk run, BENCH_ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-2}
work=$(mktemp -d /tmp/meterd-bench.XXXXXX)
cleanup() {
  # Each node wrote its pid: node() runs in a command substitution, so a shell array set there
  # would not reach this shell (earlier runs left their nodes running).
  for f in "$work"/node*/pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/postgres-test-server stop "$work" || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
psql_bin=$(ls /usr/lib/postgresql/*/bin/psql | tail -1)
db=$(scripts/postgres-test-server start "$work" "$(free_port)")
sql() { "$psql_bin" "$db" -qtAc "$1"; }

rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
pct() {
  awk -v p="$2" '$1 == p {v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.2f", v}' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# Starts a node on the database; prints its URL.
node() {
  local dir="$work/node$1"
  mkdir -p "$dir"
  "$build/meterd" serve --listen 127.0.0.1:0 --data-dir "$dir" --store "$db" --log-level warn \
    --set ingest.rate_limit_events_per_second=0 >"$dir/out" 2>"$dir/err" &
  echo $! >"$dir/pid"
  for _ in $(seq 200); do grep -q serving "$dir/out" 2>/dev/null && break; sleep 0.05; done
  echo "http://127.0.0.1:$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\).*|\1|p' "$dir/out")"
}
a=$(node a)
b=$(node b)
echo "== PostgreSQL $(sql 'SHOW server_version'), ${seconds}s per run, $rounds rounds"
printf "%-6s %10s %10s %7s %10s %7s %10s %7s\n" round "one node" "raw COPY" "ratio" "floor" "ratio" "two nodes" "2 vs 1"
for r in $(seq "$rounds"); do
  before=$(sql "SELECT count(*) FROM usage_events")
  wrk -t2 -c8 -d"${seconds}s" -s bench/batch.lua "$a" >"$work/one"
  stored=$(( $(sql "SELECT count(*) FROM usage_events") - before ))
  one=$(awk -v n="$stored" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')

  # The rows meterd stored this round, copied back in by psql into a table keyed like event_ids.
  sql "COPY (SELECT id, tenant_id, event_type, quantity, ts, received_at, metadata FROM usage_events
            ORDER BY received_at DESC LIMIT $stored) TO STDOUT" >"$work/rows.tsv"
  sql "SET client_min_messages = warning; DROP TABLE IF EXISTS raw_copy; CREATE TABLE raw_copy (id text, tenant_id text, event_type text,
       quantity numeric, ts bigint, received_at bigint, metadata text, PRIMARY KEY (tenant_id, id))"
  t0=$(date +%s.%N)
  "$psql_bin" "$db" -qc "\\copy raw_copy FROM '$work/rows.tsv'"
  t1=$(date +%s.%N)
  raw=$(awk -v n="$stored" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
  cut -f1,2,6 "$work/rows.tsv" >"$work/ids.tsv"
  sql "SET client_min_messages = warning; DROP TABLE IF EXISTS floor_ids, floor_events; CREATE TABLE floor_events (LIKE raw_copy);
       CREATE TABLE floor_ids (id text, tenant_id text, received_at bigint, PRIMARY KEY (tenant_id, id))"
  t0=$(date +%s.%N)
  "$psql_bin" "$db" -qc "\copy floor_ids FROM '$work/ids.tsv'" -c "\copy floor_events FROM '$work/rows.tsv'"
  t1=$(date +%s.%N)
  floor=$(awk -v n="$stored" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')

  before=$(sql "SELECT count(*) FROM usage_events")
  wrk -t1 -c4 -d"${seconds}s" -s bench/batch.lua "$a" >"$work/two_a" &
  wrk -t1 -c4 -d"${seconds}s" -s bench/batch.lua "$b" >"$work/two_b"
  wait %1 2>/dev/null || wait
  two=$(awk -v n="$(( $(sql "SELECT count(*) FROM usage_events") - before ))" -v s="$seconds" \
    'BEGIN {printf "%.0f", n / s}')
  printf "%-6s %10s %10s %7s %10s %7s %10s %7s\n" "$r" "$one" "$raw" "$(ratio "$one" "$raw")" "$floor" \
    "$(ratio "$one" "$floor")" "$two" "$(ratio "$two" "$one")"
done
echo "(events/s; meterd's figure counts rows committed, with their rollups and dedupe claims)"

echo "== latency through one node, 64 connections"
wrk -t2 -c64 -d"${seconds}s" --latency "$a/health" >"$work/health"
wrk -t2 -c64 -d"${seconds}s" --latency -s bench/track.lua "$a" >"$work/track"
QUOTA_TENANTS=100 wrk -t2 -c64 -d"${seconds}s" --latency -s bench/quota_check.lua "$a" >"$work/quota"
printf "%-14s %10s %8s %8s\n" "" "req/s" "p50 ms" "p99 ms"
for t in health track quota; do
  printf "%-14s %10.0f %8s %8s\n" "$t" "$(rps "$work/$t")" "$(pct "$work/$t" 50%)" "$(pct "$work/$t" 99%)"
done
# Saturated, the p99s above are wrk's queue on two shared cores as much as meterd's. At a fixed
# rate: 64 connections pausing 20 ms (at most 3,200 req/s) for /track, and for /quota/check
# 20 connections pausing 1 ms, the rate bench/quota.sh holds the embedded store's check to.
echo "== latency through one node at a fixed rate (achieved req/s printed)"
TRACK_DELAY_MS=20 TRACK_PATH=/health wrk -t2 -c64 -d"${seconds}s" --latency -s bench/track.lua "$a" >"$work/health_paced"
TRACK_DELAY_MS=20 wrk -t2 -c64 -d"${seconds}s" --latency -s bench/track.lua "$a" >"$work/track_paced"
QUOTA_DELAY_MS=1 QUOTA_TENANTS=100 wrk -t1 -c20 -d"${seconds}s" --latency -s bench/quota_check.lua "$a" \
  >"$work/quota_paced"
printf "%-14s %10s %8s %8s\n" "" "req/s" "p50 ms" "p99 ms"
for t in health track quota; do
  printf "%-14s %10.0f %8s %8s\n" "$t" "$(rps "$work/${t}_paced")" "$(pct "$work/${t}_paced" 50%)" \
    "$(pct "$work/${t}_paced" 99%)"
done
