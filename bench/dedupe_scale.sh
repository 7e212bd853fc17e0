#!/usr/bin/env bash
# The dedupe index at scale: for each size, a data folder whose index holds that many ids of the
# window (bench/dedupe_fill), then meterd on it with the index on disk (the default) and, for the
# sizes in DEDUPE_MEMORY_SIZES, in memory. Prints per kind and size: what claiming a new id costs
# the writer in that index (dedupe_fill, outside meterd), how long a start took to
# serve, RSS after the start and after batch ingest (and its peak), batch ingest in events/s (ids
# made by meterd, as the seed's clients send them; then ids of the client's own, which the index
# must look up), how long a clean restart and a start after kill -9 under load took to serve.
# Usage: bench/dedupe_scale.sh [BUILD_DIR]
#   DEDUPE_SIZES ("1000000 10000000 100000000"), DEDUPE_MEMORY_SIZES ("1000000 10000000"),
#   BENCH_SECONDS (10 per batch run), BENCH_BATCH_CONNECTIONS (8), DEDUPE_WORK (a folder on the
#   disk to measure; /var/tmp by default, as /tmp may be memory)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
sizes=${DEDUPE_SIZES:-"1000000 10000000 100000000"}
memory_sizes=${DEDUPE_MEMORY_SIZES:-"1000000 10000000"}
seconds=${BENCH_SECONDS:-10}
conns=${BENCH_BATCH_CONNECTIONS:-8}
work=$(mktemp -d "${DEDUPE_WORK:-/var/tmp}/meterd-dedupe.XXXXXX")
pid=""
stop() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; pid=""; }
trap 'stop; rm -rf "$work"' EXIT

now_ms() { date +%s%3N; }
rss_mb() { awk -v f="$2" '$1 == f ":" {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# Starts meterd on DATA with the index KIND; sets pid, url and ready (ms from launch to serving).
start() {
  local data=$1 kind=$2 t0
  : >"$data.out"
  t0=$(now_ms)
  METERD_DEDUPE_INDEX=$kind "$build/meterd" serve --listen 127.0.0.1:0 --data-dir "$data" --log-level info \
    --set ingest.rate_limit_events_per_second=0 >"$data.out" 2>>"$data.err" &
  pid=$!
  until grep -q serving "$data.out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$data.err" >&2; exit 1; }
    sleep 0.01
  done
  ready=$(($(now_ms) - t0))
  url="http://127.0.0.1:$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\).*|\1|p' "$data.out")"
}

batch() { wrk -t2 -c"$conns" -d"$1s" -s bench/batch.lua "$url" | awk '/Requests\/sec/ {printf "%.0f", $2 * 1000}'; }

echo "== batch ingest: /v1/events x1000 events, $conns connections, ${seconds}s; RSS in MB"
printf "%-7s %11s %8s %9s %9s %10s %10s %10s %8s %10s %9s %s\n" kind ids claim_ns start_ms rss_start ev/s \
  ev/s_ids rss_after peak restart_ms kill9_ms "read again after kill -9"
for n in $sizes; do
  for kind in memory disk; do
    [[ $kind == memory && " $memory_sizes " != *" $n "* ]] && continue
    data="$work/$kind-$n"
    claim=$("$build/bench/dedupe_fill" "$data" "$kind" "$n" 2>"$data.fill" | sed -n 's/claiming a new id: \([0-9]*\) ns.*/\1/p')
    start "$data" "$kind"
    first_ready=$ready rss_start=$(rss_mb "$pid" VmRSS)
    rate=$(batch "$seconds")
    rate_ids=$(BATCH_IDS=1 batch "$seconds")
    rss_after=$(rss_mb "$pid" VmRSS) peak=$(rss_mb "$pid" VmHWM)
    stop
    start "$data" "$kind"
    restart=$ready
    # kill -9 in the middle of a batch run, then a start
    wrk -t2 -c"$conns" -d3s -s bench/batch.lua "$url" >/dev/null &
    load=$!
    sleep 2
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    wait "$load" || true
    start "$data" "$kind"
    killed=$ready
    again=$(grep -o 'added from the [0-9]* events\|([0-9]* from the events[^)]*)' "$data.err" | tail -1)
    stop
    printf "%-7s %11s %8s %9s %9s %10s %10s %10s %8s %10s %9s %s\n" "$kind" "$n" "$claim" "$first_ready" "$rss_start" \
      "$rate" "$rate_ids" "$rss_after" "$peak" "$restart" "$killed" "$again"
    rm -rf "$data"
  done
done
