#!/usr/bin/env bash
# Prepaid credit's cost (docs/credits.md): batch ingest of a tenant whose every event burns
# credit in hard mode against the same batches of a tenant without credit, alternating, on the
# same server; and balance reads next to /health, paced to a little over 10,000 req/s.
# Usage: bench/credits.sh [BUILD_DIR]   (BENCH_SECONDS=10 per wrk run by default; BENCH_STORE=postgresql
# runs the node on a private PostgreSQL, scripts/postgres-test-server, instead of the embedded store)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${BENCH_SECONDS:-10}
work=$(mktemp -d /tmp/meterd-credits-bench.XXXXXX)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [[ -d "$work/pg" ]] && scripts/postgres-test-server stop "$work" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

source bench/lib.sh
store=()
if [[ ${BENCH_STORE:-} == postgresql ]]; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  store=(--store "$(scripts/postgres-test-server start "$work" "$port")")
fi
start_meterd "$work/data" --set ingest.rate_limit_events_per_second=0 "${store[@]}"
# Enough credit for every event of the run (input_tokens: 0.003 per 1,000 on the default plan).
curl -sf -X POST "$url/v1/tenants/tenant_credit/credits/grants" -H 'Idempotency-Key: bench' \
  -H 'Content-Type: application/json' -d '{"amount":"100000000"}' >/dev/null
curl -sf -X PUT "$url/v1/tenants/tenant_credit/credits/settings" -H 'Content-Type: application/json' \
  -d '{"enforcement":"hard"}' >/dev/null

echo "== batch ingest, 1,000 events per request, 8 connections, ${seconds}s each, in the order ABBA ABBA"
# Each run appends to the same store, which grows: alternating the order keeps that from
# favouring either side.
order=(tenant_plain tenant_credit tenant_credit tenant_plain tenant_plain tenant_credit tenant_credit tenant_plain)
for i in "${!order[@]}"; do
  BATCH_TENANT=${order[$i]} BATCH_EVENT_TYPE=input_tokens wrk -t2 -c8 -d"${seconds}s" --latency -s bench/batch.lua \
    "$url" >"$work/run.$i"
  printf '  %-14s %8.0f ev/s  non-2xx %s\n' "${order[$i]}" "$(awk -v r="$(rps "$work/run.$i")" 'BEGIN {print r * 1000}')" \
    "$(non2xx "$work/run.$i" || echo 0)"
done
plain=0 credit=0
for i in "${!order[@]}"; do
  r=$(rps "$work/run.$i")
  if [[ ${order[$i]} == tenant_plain ]]; then plain=$(awk -v a="$plain" -v b="$r" 'BEGIN {print a + b}');
  else credit=$(awk -v a="$credit" -v b="$r" 'BEGIN {print a + b}'); fi
done
echo "  with credit (hard, every event burns) / without: $(awk -v a="$credit" -v b="$plain" 'BEGIN {printf "%.3f", a / b}')"
curl -sf "$url/v1/tenants/tenant_credit/credits/balance" | head -c 200; echo

echo "== balance reads, paced to a little over 10,000 req/s (20 connections, 1 ms pause each)"
cat >"$work/get.lua" <<'LUA'
function delay() return 1 end
LUA
for round in 1 2; do
  wrk -t1 -c20 -d"${seconds}s" --latency -s "$work/get.lua" "$url/health" >"$work/health"
  wrk -t1 -c20 -d"${seconds}s" --latency -s "$work/get.lua" "$url/v1/tenants/tenant_credit/credits/balance" \
    >"$work/balance"
  for f in health balance; do
    printf '  %-8s %8.0f req/s  p50 %s ms  p99 %s ms  non-2xx %s\n' "$f" "$(rps "$work/$f")" \
      "$(pct "$work/$f" 50%)" "$(pct "$work/$f" 99%)" "$(non2xx "$work/$f" || echo 0)"
  done
done
