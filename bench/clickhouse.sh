#!/usr/bin/env bash
# meterd's insert path into ClickHouse against raw inserts of the same rows into the same
# schema, measured in the same run on a private ClickHouse (Debian's clickhouse-server).
#   meterd:        the shipper moving N acknowledged events from the local log, BATCH per insert
#   raw HTTP:      curl posting the same TabSeparated rows, BATCH per insert (the floor at that size)
#   raw client:    clickhouse-client inserting all N rows at once (native protocol, best case)
# Then the same into a private cluster (scripts/clickhouse-test-cluster: 2 shards x 2 replicas,
# ZooKeeper): meterd's shipper into the Distributed table against clickhouse-client inserting the
# same rows into it, both synchronous (insert_distributed_sync=1: returns once the shards have them).
# meterd ships BATCH per insert here; with a backlog it ships up to buffer.catch_up_size (100,000)
# per insert, so BENCH_BATCH=100000 is what a catch-up after an outage costs.
# Usage: bench/clickhouse.sh [BUILD_DIR]   (BENCH_EVENTS=1000000, BENCH_BATCH=10000, BENCH_ROUNDS=3,
#                                            BENCH_CLUSTER=1; 0 skips the cluster)
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
# curl posting rows.tsv to URL in batches of BATCH into DB.usage_events (SETTINGS appended to the
# query string); prints the rows per second.
raw_http() {
  local at=$1 db=$2 settings=${3:-} t0 t1
  split -l "$batch" "$work/rows.tsv" "$work/part."
  t0=$(now)
  for f in "$work"/part.*; do
    curl -sS --fail "$at/?query=INSERT%20INTO%20$db.usage_events%20FORMAT%20TabSeparated$settings" --data-binary @"$f"
  done
  t1=$(now)
  rm -f "$work"/part.*
  rate "$t0" "$t1"
}

echo "== $n events, $batch per insert, $rounds rounds, ClickHouse $(curl -sS "$url/" --data-binary 'SELECT version()')"
printf "%-6s %14s %14s %14s %12s %12s\n" round "meterd ev/s" "raw HTTP" "raw client" "vs HTTP" "vs client"
for r in $(seq "$rounds"); do
  rm -rf "$work/log" && mkdir -p "$work/log"
  meterd=$("$build/bench/clickhouse_ship" "$url" "m$r" "$n" "$batch" "$work/log" "$work/rows.tsv")
  [[ $(count "m$r") == "$n" ]] || { echo "meterd stored $(count "m$r") of $n rows" >&2; exit 1; }

  migrate "h$r"
  http=$(raw_http "$url" "h$r")
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

[[ ${BENCH_CLUSTER:-1} == 0 ]] && exit 0
base=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1] % 12000 + 20000)')
trap 'scripts/clickhouse-test-cluster stop "$work/cluster" >/dev/null 2>&1 || true; cleanup' EXIT
scripts/clickhouse-test-cluster start "$work/cluster" "$base" >/dev/null
node=http://127.0.0.1:$((base + 10))
# As meterd reads a cluster: from the first live replica, the one that took the inserts.
ccount() { curl -sS "$node/?load_balancing=in_order" --data-binary "SELECT count() FROM $1.usage_events"; }
echo "== the same into a cluster of 2 shards x 2 replicas (Distributed, synchronous inserts)"
printf "%-6s %14s %14s %14s %12s %12s\n" round "meterd ev/s" "raw HTTP" "raw client" "vs HTTP" "vs client"
for r in $(seq "$rounds"); do
  rm -rf "$work/log" && mkdir -p "$work/log"
  meterd=$("$build/bench/clickhouse_ship" "$node" "cm$r" "$n" "$batch" "$work/log" "$work/rows.tsv" meterd_test)
  [[ $(ccount "cm$r") == "$n" ]] || { echo "meterd stored $(ccount "cm$r") of $n rows" >&2; exit 1; }
  "$build/meterd" --data-dir "$work/migrate" --clickhouse "$node" --set clickhouse.database="cc$r" \
    migrate --cluster meterd_test >/dev/null
  t0=$(now)
  clickhouse-client --host 127.0.0.1 --port $((base + 11)) --insert_distributed_sync=1 \
    --query "INSERT INTO cc$r.usage_events FORMAT TabSeparated" < "$work/rows.tsv"
  t1=$(now)
  client=$(rate "$t0" "$t1")
  [[ $(ccount "cc$r") == "$n" ]] || { echo "clickhouse-client stored $(ccount "cc$r") of $n rows" >&2; exit 1; }
  "$build/meterd" --data-dir "$work/migrate" --clickhouse "$node" --set clickhouse.database="ch$r" \
    migrate --cluster meterd_test >/dev/null
  http=$(raw_http "$node" "ch$r" "&insert_distributed_sync=1")
  [[ $(ccount "ch$r") == "$n" ]] || { echo "raw HTTP stored $(ccount "ch$r") of $n rows" >&2; exit 1; }
  printf "%-6s %14s %14s %14s %12s %12s\n" "$r" "$meterd" "$http" "$client" "$(ratio "$meterd" "$http")" \
    "$(ratio "$meterd" "$client")"
done
