#!/usr/bin/env bash
# Invoice time for one tenant-month of BENCH_INVOICE_EVENTS (default 10,000,000) events, from
# rollups and from raw events, on the embedded store and on a private ClickHouse.
# Usage: bench/invoice.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${BENCH_INVOICE_EVENTS:-10000000}
work=$(mktemp -d /tmp/meterd-invbench.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  scripts/clickhouse-test-server stop "$work/ch" || true
  rm -rf "$work"
}
trap cleanup EXIT
url=$(scripts/clickhouse-test-server start "$work/ch" "$port")
mkdir -p "$work/data"
echo "== invoice of one tenant-month, $n events"
"$build/bench/invoice_bench" "$work/data" "$n" "$url"
