#!/usr/bin/env bash
# Invoice time for one tenant-month of BENCH_INVOICE_EVENTS (default 10,000,000) events, from
# rollups and from raw events, on the embedded store and on a private ClickHouse; then on a
# private cluster of 2 shards x 2 replicas (scripts/clickhouse-test-cluster) through its
# Distributed tables.
# Usage: bench/invoice.sh [BUILD_DIR]   (BENCH_CLUSTER=0 skips the cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${BENCH_INVOICE_EVENTS:-10000000}
source bench/private_clickhouse.sh
mkdir -p "$work/data"
echo "== invoice of one tenant-month, $n events"
"$build/bench/invoice_bench" "$work/data" "$n" "$url"
[[ ${BENCH_CLUSTER:-1} == 0 ]] && exit 0
base=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1] % 12000 + 20000)')
trap 'scripts/clickhouse-test-cluster stop "$work/cluster" >/dev/null 2>&1 || true; cleanup' EXIT
scripts/clickhouse-test-cluster start "$work/cluster" "$base" >/dev/null
mkdir -p "$work/data-cluster"
echo "== the same on a cluster of 2 shards x 2 replicas"
"$build/bench/invoice_bench" "$work/data-cluster" "$n" "http://127.0.0.1:$((base + 10))" meterd_test
