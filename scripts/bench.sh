#!/usr/bin/env bash
# bench.sh: the table of issue 12 (make bench). Builds modelgate, cmd/mcp-load
# and cmd/mcp-floor (a trivial mcp-go server: the framework's floor), then
#   1. starts `mcp-server serve --transport http` on a temporary embedded
#      store with a token, captures its list_offered_models answer, starts
#      mcp-floor serving that answer, and measures both over stateless
#      streamable HTTP, interleaved (ABBA rounds): ping vs ping,
#      list_offered_models vs the same bytes from the floor;
#   2. measures start → initialize on stdio, interleaved, for the floor and
#      for modelgate on an existing and on a fresh data dir, and idle RSS;
#      beside them, as a reference, the floor built with the SQLite engine
#      (mcp-floor -tags floorsqlite) holding a file open.
# It prints the details, then the table. Every figure is a ratio taken in
# one run on this machine; nothing here is a timed test.
# Usage: scripts/bench.sh [-d 5s] [-rounds 4] [-c 32] [-startup 15]
set -euo pipefail
cd "$(dirname "$0")/.."
D=5s ROUNDS=4 CLIENTS=32 STARTUP=15 ARGS='{"runtime":"claude-code"}'
while [ $# -gt 0 ]; do
  case "$1" in
    -d) D=$2; shift 2 ;;
    -rounds) ROUNDS=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -startup) STARTUP=$2; shift 2 ;;
    -args) ARGS=$2; shift 2 ;;
    *) echo "usage: $0 [-d 5s] [-rounds 4] [-c 32] [-startup 15] [-args JSON]" >&2; exit 2 ;;
  esac
done
# Both servers are built as make build builds modelgate: static (CGO_ENABLED=0).
export CGO_ENABLED=0
go build -o bin/mcp-server ./cmd/mcp-server
go build -o bin/mcp-load ./cmd/mcp-load
go build -o bin/mcp-floor ./cmd/mcp-floor
# A reference only: the floor plus the embedded store's engine (SQLite).
go build -tags floorsqlite -o bin/mcp-floor-sqlite ./cmd/mcp-floor

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-bench.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
unset MODELGATE_DATABASE_URL MODELGATE_SECRETS_KEY
export MODELGATE_DATA_DIR="$WORK/data" MODELGATE_LOG_LEVEL=warn
TOKEN=$(bin/mcp-server token create --org bench --name bench 2>/dev/null)

# wait_addr LOG SEDEXPR: prints the address the server logged.
wait_addr() {
  local addr=""
  for _ in $(seq 1 100); do
    addr=$(sed -n "$2" "$1" | head -n1)
    [ -n "$addr" ] && { echo "$addr"; return; }
    sleep 0.1
  done
  cat "$1" >&2
  exit 1
}

bin/mcp-server serve --transport http --addr 127.0.0.1:0 --log-level info --no-provisioner 2>"$WORK/mg.log" &
MG=$!; PIDS+=("$MG")
MG_ADDR=$(wait_addr "$WORK/mg.log" 's/.*"addr":"\([0-9.]*:[0-9]*\)".*/\1/p')
bin/mcp-load -url "http://$MG_ADDR/mcp" -token "$TOKEN" -args "$ARGS" -capture "$WORK/answer.json"
bin/mcp-floor -transport http -addr 127.0.0.1:0 -answer "$WORK/answer.json" 2>"$WORK/floor.log" &
FLOOR=$!; PIDS+=("$FLOOR")
FLOOR_ADDR=$(wait_addr "$WORK/floor.log" 's/^listening on \([0-9.]*:[0-9]*\)$/\1/p')
sleep 2 # let start-up garbage be collected before the idle readings

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
echo "== HTTP: modelgate pid $MG at $MG_ADDR, floor pid $FLOOR at $FLOOR_ADDR"
bin/mcp-load -url "http://$MG_ADDR/mcp" -token "$TOKEN" -pid "$MG" -floor "http://$FLOOR_ADDR/mcp" -floor-pid "$FLOOR" \
  -c "$CLIENTS" -d "$D" -rounds "$ROUNDS" -args "$ARGS" | tee "$WORK/http.out"
kill -TERM "$MG" "$FLOOR"; wait "$MG" "$FLOOR" 2>/dev/null || true; PIDS=()

echo "== stdio start-up"
bin/mcp-load -startup "$STARTUP" -server bin/mcp-server -floor-bin bin/mcp-floor -floor-sqlite-bin bin/mcp-floor-sqlite | tee "$WORK/startup.out"

echo
echo "== issue 12, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| measure | modelgate vs the floor | target |"
echo "|---|---|---|"
grep -h '^| ' "$WORK/http.out" "$WORK/startup.out"
