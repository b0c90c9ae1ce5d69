#!/usr/bin/env bash
# measure-metrics.sh: what --metrics costs (docs/performance.md). Builds the
# server and cmd/mcp-load, starts two servers side by side on loopback, each
# on its own temporary embedded store -- one with --metrics=false, one with
# --metrics (what a loopback listener gets by default) -- and measures ping
# and tools/call list_offered_models on each with 32 concurrent clients, in
# alternating order (off,on then on,off, ...) so that neither gets a quieter
# machine. Only one server is under load at a time; the idle one costs
# nothing. Each mcp-load run also reads the server's CPU time (/proc/PID/stat),
# the figure least disturbed by other work on a shared machine.
# Usage: scripts/measure-metrics.sh [ROUNDS [DURATION]]   (default 4 rounds of 6s)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-4}"
D="${2:-6s}"
go build -o bin/mcp-server ./cmd/mcp-server
go build -o bin/mcp-load ./cmd/mcp-load

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-metrics.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
unset MODELGATE_DATABASE_URL MODELGATE_SECRETS_KEY MODELGATE_METRICS MODELGATE_METRICS_ORG_LABELS

# start NAME FLAGS...: starts a server on its own store; sets PID_NAME,
# ADDR_NAME and TOKEN_NAME.
start() {
  local name=$1; shift
  export MODELGATE_DATA_DIR="$WORK/$name"
  local token
  token=$(bin/mcp-server token create --org load --name measure 2>/dev/null)
  bin/mcp-server serve --transport http --addr 127.0.0.1:0 --log-level info "$@" 2>"$WORK/$name.log" &
  local pid=$!
  PIDS+=("$pid")
  local addr=""
  for _ in $(seq 1 100); do
    addr=$(sed -n 's/.*"addr":"\([0-9.]*:[0-9]*\)".*/\1/p' "$WORK/$name.log" | head -n1)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$WORK/$name.log" >&2; exit 1; }
  printf -v "PID_$name" '%s' "$pid"
  printf -v "ADDR_$name" '%s' "$addr"
  printf -v "TOKEN_$name" '%s' "$token"
}

start off --metrics=false
start on --metrics
grep -q '"metrics":false' "$WORK/off.log" && grep -q '"metrics":true' "$WORK/on.log" || { echo "metrics flags not applied" >&2; exit 1; }

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
echo "== $ROUNDS alternating rounds of $D per method and server, 32 clients"
for r in $(seq 1 "$ROUNDS"); do
  order="off on"
  [ $((r % 2)) -eq 0 ] && order="on off"
  for v in $order; do
    pid_var="PID_$v" addr_var="ADDR_$v" token_var="TOKEN_$v"
    bin/mcp-load -url "http://${!addr_var}/mcp" -token "${!token_var}" -c 32 -d "$D" -rounds 1 -pid "${!pid_var}" \
      | grep '^round' | sed "s/^round 1/$v/" | tee -a "$WORK/results.txt"
  done
done
# After the load: the metrics server has counted every tool call.
curl -fsS "http://$ADDR_on/metrics" | grep '^modelgate_tool_calls_total' || true

# Sum requests and average the rate and server CPU per request of each
# (server, method); then on/off ratios.
awk '
function us(s) {  # "123µs" | "1.2ms" -> microseconds
  if (s ~ /ms$/) { sub(/ms$/, "", s); return s * 1000 }
  sub(/µs$/, "", s); return s + 0
}
{
  key = $1 " " $2
  rate[key] += $3; n[key]++
  for (i = 1; i <= NF; i++) if ($i == "CPU") cpu[key] += us(substr($(i+1), 1, index($(i+1), "/") - 1))
}
END {
  printf "%-4s %-20s %10s %14s\n", "", "method", "req/s", "server CPU/req"
  split("ping list_offered_models", ms, " ")
  for (j = 1; j <= 2; j++) for (v = 0; v < 2; v++) {
    s = v ? "on" : "off"; k = s " " ms[j]
    printf "%-4s %-20s %10.0f %12.1fus\n", s, ms[j], rate[k] / n[k], cpu[k] / n[k]
  }
  for (j = 1; j <= 2; j++) {
    on = "on " ms[j]; off = "off " ms[j]
    printf "%-20s throughput on/off %.3f, server CPU per request on/off %.3f\n", ms[j], (rate[on]/n[on]) / (rate[off]/n[off]), (cpu[on]/n[on]) / (cpu[off]/n[off])
  }
}' "$WORK/results.txt"
