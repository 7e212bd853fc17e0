#!/usr/bin/env bash
# meterd's insert path into ClickHouse against raw inserts of the same rows into the same
# schema, measured in the same run on a private ClickHouse (Debian's clickhouse-server).
#   meterd:        the shipper moving N acknowledged events from the local log, BATCH per insert
#   raw HTTP:      curl posting the same TabSeparated rows, BATCH per insert
#   raw client:    clickhouse-client inserting all N rows at once (native protocol, best case)
# Usage: bench/clickhouse.sh [BUILD_DIR]   (BENCH_EVENTS=1000000, BENCH_BATCH=10000, BENCH_ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${BENCH_EVENTS:-1000000}
batch=${BENCH_BATCH:-10000}
rounds=${BENCH_ROUNDS:-3}
source bench/private_clickhouse.sh

now() { date +%s.%N; }
rate() { awk -v n="$n" -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", n / (b - a)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
migrate() { "$build/meterd" --data-dir "$work/migrate" --clickhouse "$url" --set clickhouse.database="$1" migrate >/dev/null; }
count() { curl -sS "$url/" --data-binary "SELECT count() FROM $1.usage_events"; }

echo "== $n events, $batch per insert, $rounds rounds, ClickHouse $(curl -sS "$url/" --data-binary 'SELECT version()')"
printf "%-6s %14s %14s %14s %12s %12s\n" round "meterd ev/s" "raw HTTP" "raw client" "vs HTTP" "vs client"
for r in $(seq "$rounds"); do
  rm -rf "$work/log" && mkdir -p "$work/log"
  meterd=$("$build/bench/clickhouse_ship" "$url" "m$r" "$n" "$batch" "$work/log" "$work/rows.tsv")
  [[ $(count "m$r") == "$n" ]] || { echo "meterd stored $(count "m$r") of $n rows" >&2; exit 1; }

  migrate "h$r"
  split -l "$batch" "$work/rows.tsv" "$work/part."
  query="INSERT%20INTO%20h$r.usage_events%20FORMAT%20TabSeparated"
  t0=$(now)
  for f in "$work"/part.*; do curl -sS --fail "$url/?query=$query" --data-binary @"$f"; done
  t1=$(now)
  http=$(rate "$t0" "$t1")
  rm -f "$work"/part.*
  [[ $(count "h$r") == "$n" ]] || { echo "raw HTTP stored $(count "h$r") of $n rows" >&2; exit 1; }

  migrate "c$r"
  t0=$(now)
  clickhouse-client --host 127.0.0.1 --port $((port + 1)) --query "INSERT INTO c$r.usage_events FORMAT TabSeparated" < "$work/rows.tsv"
  t1=$(now)
  client=$(rate "$t0" "$t1")
  printf "%-6s %14s %14s %14s %12s %12s\n" "$r" "$meterd" "$http" "$client" "$(ratio "$meterd" "$http")" "$(ratio "$meterd" "$client")"
  curl -sS "$url/" --data-binary "DROP DATABASE m$r" && curl -sS "$url/" --data-binary "DROP DATABASE h$r" &&
    curl -sS "$url/" --data-binary "DROP DATABASE c$r"
done
