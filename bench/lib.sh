# Helpers the bench scripts source: reading wrk's output, and a meterd on a free loopback port.

# wrk's "Requests/sec"; a latency percentile ("99%") in ms; the count of non-2xx answers.
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
pct() {
  awk -v p="$2" '$1 == p {v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.2f", v}' "$1"
}
non2xx() { awk '/Non-2xx/ {print $5}' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# Starts "$build/meterd serve" on DATA_DIR with any extra arguments; sets pid, port and url.
start_meterd() {
  local data=$1
  shift
  "$build/meterd" serve --listen 127.0.0.1:0 --data-dir "$data" --log-level warn "$@" >"$data.out" 2>"$data.err" &
  pid=$!
  # 60 s: this machine's shared disk has stalled a start for more than 20 s.
  for _ in $(seq 1200); do grep -q serving "$data.out" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\).*|\1|p' "$data.out")
  if [[ -z "$port" ]]; then
    echo "meterd did not start within 60 s on $data; its log:" >&2
    cat "$data.out" "$data.err" >&2
    exit 1
  fi
  url="http://127.0.0.1:$port"
}
