#!/usr/bin/env bash
# Invoice time for one tenant-month of BENCH_INVOICE_EVENTS (default 10,000,000) events, from
# rollups and from raw events, on the embedded store and on a private ClickHouse.
# Usage: bench/invoice.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${BENCH_INVOICE_EVENTS:-10000000}
source bench/private_clickhouse.sh
mkdir -p "$work/data"
echo "== invoice of one tenant-month, $n events"
"$build/bench/invoice_bench" "$work/data" "$n" "$url"
