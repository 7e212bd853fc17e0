#!/usr/bin/env bash
# How close can any durable /track come to /health on this machine? Runs bench/durable_floor
# (meterd's HTTP server with the plainest group commit and none of meterd's ingest work) and
# meterd itself, each against its own /health in the same run, alternating BENCH_ROUNDS times.
# Usage: bench/durable_floor.sh [BUILD_DIR]   (BENCH_SECONDS=5 per wrk run, BENCH_ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-2}
work=$(mktemp -d /tmp/meterd-floor.XXXXXX)
pid=""
stop() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; pid=""; }
trap 'stop; rm -rf "$work"' EXIT

source bench/lib.sh
req_s() { wrk -t2 -c64 -d"${seconds}s" "$@" | awk '/Requests\/sec/ {printf "%.0f", $2}'; }
body() { TRACK_PATH=$1 req_s -s bench/track.lua "$2"; }
seed_body() { TRACK_FORMAT=seed TRACK_PATH=$1 req_s -s bench/track.lua "$2"; }
to_mean() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN {printf "%.2f", a / ((b + c) / 2)}'; }

echo "== 64 connections, ${seconds}s per run; each ratio is to the mean of the /health runs around it"
for round in $(seq "$rounds"); do
  rm -rf "$work/floor" "$work/data" && mkdir -p "$work/floor"
  "$build/bench/durable_floor" "$work/floor" >"$work/floor.out" &
  pid=$!
  for _ in $(seq 1200); do grep -q port "$work/floor.out" 2>/dev/null && break; sleep 0.05; done
  grep -q port "$work/floor.out" || { echo "bench/durable_floor did not start within 60 s" >&2; exit 1; }
  url="http://127.0.0.1:$(awk '{print $2}' "$work/floor.out")"
  h1=$(req_s "$url/health"); ack=$(body /ack "$url"); durable=$(body /durable "$url"); h2=$(req_s "$url/health")
  stop
  echo "floor  round $round: /health ${h1} then ${h2} req/s; POST /ack ${ack} ($(to_mean "$ack" "$h1" "$h2"));" \
       "POST /durable ${durable} ($(to_mean "$durable" "$h1" "$h2"))"

  start_meterd "$work/data" --set ingest.rate_limit_events_per_second=0
  h1=$(req_s "$url/health"); track=$(body /track "$url"); seed=$(seed_body /track "$url"); h2=$(req_s "$url/health")
  stop
  echo "meterd round $round: /health ${h1} then ${h2} req/s; POST /track ${track} ($(to_mean "$track" "$h1" "$h2"));" \
       "seed format (no id, 50 tenants) ${seed} ($(to_mean "$seed" "$h1" "$h2"); $(awk -v a="$seed" -v b="$track" \
       'BEGIN {printf "%.2f", a / b}') of /track with ids); /track vs the floor's /durable: $(awk -v a="$track" \
       -v b="$durable" 'BEGIN {printf "%.2f", a / b}')"
done
