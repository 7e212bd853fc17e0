#!/usr/bin/env bash
# track() latency of meter::Tracker (C++, two producer threads) and of the Python client's
# UsageTracker (bench/python_tracker.py), each shipping to a real meterd.
# Usage: bench/tracker.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$(mktemp -d /tmp/meterd-bench.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$build/meterd" serve --listen "127.0.0.1:$port" --data-dir "$work" --log-level warn \
  --set ingest.rate_limit_events_per_second=0 >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
echo "== meter::Tracker::track(), 2 producer threads, shipping to meterd (paced: events/s per thread; burst: back to back)"
"$build/bench/tracker_bench" "http://127.0.0.1:$port" --benchmark_counters_tabular=true
echo "== meterd.UsageTracker.track() (Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())')), paced producers, shipping to meterd"
/usr/bin/python3 bench/python_tracker.py "http://127.0.0.1:$port"
