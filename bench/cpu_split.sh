#!/usr/bin/env bash
# CPU time per request of meterd and of the load generator (wrk), for /health, for /health
# carrying /track's body built by the same Lua code (the load generator doing /track's work), and
# for /track, from the processes' own CPU counters: on two shared cores the ratio of request
# rates mixes both, and this shows whose work grew. Usage: bench/cpu_split.sh [BUILD_DIR]   (BENCH_SECONDS=5 each)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${BENCH_SECONDS:-5}
work=$(mktemp -d /tmp/meterd-cpu-split.XXXXXX)
"$build/meterd" serve --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn \
  --set ingest.rate_limit_events_per_second=0 >"$work/out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 400); do grep -q serving "$work/out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/out")
tick=$(getconf CLK_TCK)
meterd_cpu() { awk -v t="$tick" '{print ($14 + $15) / t}' "/proc/$pid/stat"; }

echo "== CPU per request, 64 connections, ${seconds}s each"
for what in health health+body track; do
  args=("http://127.0.0.1:$port/health")
  [[ $what != health ]] && args=(-s bench/track.lua "http://127.0.0.1:$port")
  path=/track
  [[ $what == health+body ]] && path=/health
  before=$(meterd_cpu)
  TRACK_PATH=$path /usr/bin/time -f "%U %S" -o "$work/wrk_cpu" wrk -t2 -c64 -d"${seconds}s" "${args[@]}" >"$work/wrk.txt"
  after=$(meterd_cpu)
  awk -v what="$what" -v secs="$seconds" -v before="$before" -v after="$after" \
      -v rps="$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" -v wrk="$(awk '{print $1 + $2}' "$work/wrk_cpu")" \
      'BEGIN { n = rps * secs; m = (after - before) / n * 1e6; w = wrk / n * 1e6;
               printf "%-12s %8.0f req/s   meterd %5.1f µs   wrk %5.1f µs   both %5.1f µs\n", what, rps, m, w, m + w }'
done
