#!/usr/bin/env bash
# Quota checks with 100,000 tenants loaded: in-process (bench/quota_bench) and over HTTP
# (wrk against POST /quota/check, next to /health in the same run).
# Usage: bench/quota.sh [BUILD_DIR]   (BENCH_SECONDS=10 per wrk run by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${BENCH_SECONDS:-10}
work=$(mktemp -d /tmp/meterd-quota-bench.XXXXXX)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== in process"
"$build/bench/quota_bench"

start_meterd() {
  "$build/meterd" serve --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 200); do grep -q serving "$work/out" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/out")
}
start_meterd  # creates the schema
kill "$pid"; wait "$pid" || true
sqlite3 "$work/data/meterd.db" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
  INSERT INTO tenant_settings (tenant_id, quota_set, queries_per_day, tokens_per_day, storage_gb, updated_at, time_zone, enforcement)
  SELECT 'tenant_' || i, 1, '1000', '100000', NULL, 0,
         CASE i % 4 WHEN 0 THEN 'UTC' WHEN 1 THEN 'Europe/Berlin' WHEN 2 THEN 'Asia/Kolkata' ELSE 'America/New_York' END,
         'hard' FROM n"
start_meterd
echo "== over HTTP (${seconds}s each, 8 connections, wrk on the same 2 cores)"
wrk -t1 -c8 -d"${seconds}s" --latency "http://127.0.0.1:$port/health" | grep -E "Requests/sec| 50%| 99%" | sed 's/^/  \/health      /'
wrk -t1 -c8 -d"${seconds}s" --latency -s bench/quota_check.lua "http://127.0.0.1:$port" |
  grep -E "Requests/sec| 50%| 99%|Non-2xx" | sed 's/^/  \/quota\/check /'
# The target's rate: 20 connections, each pausing 1 ms between requests (wrk's pause is whole
# milliseconds), give a little over 10,000 req/s; the achieved rate is printed.
echo "== over HTTP, paced to a little over 10,000 req/s (20 connections)"
QUOTA_DELAY_MS=1 wrk -t1 -c20 -d"${seconds}s" --latency -s bench/quota_check.lua "http://127.0.0.1:$port" |
  grep -E "Requests/sec| 50%| 99%|Non-2xx" | sed 's/^/  \/quota\/check /'
