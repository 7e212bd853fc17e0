# Sourced by benchmarks: a private ClickHouse (scripts/clickhouse-test-server) in a fresh work
# folder, stopped and removed on exit. Sets $work, $port (HTTP; native protocol on port + 1)
# and $url.
work=$(mktemp -d /tmp/meterd-bench.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  scripts/clickhouse-test-server stop "$work/ch" || true
  rm -rf "$work"
}
trap cleanup EXIT
url=$(scripts/clickhouse-test-server start "$work/ch" "$port" $((port + 1)))
