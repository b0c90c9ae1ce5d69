#!/usr/bin/env bash
# measure-network.sh: the numbers of docs/network.md. Builds the server and
# cmd/mcp-load, starts the server on a temporary embedded store on a free
# loopback port, and measures from a second process:
#   1. idle RSS of the streamable HTTP server, then ping vs list_offered_models
#      over stateless streamable HTTP with 32 concurrent clients (same run);
#   2. idle RSS of the SSE server and its RSS with 1,000 open SSE sessions.
# Usage: scripts/measure-network.sh [-d 10s] [-rounds 2]   (flags go to mcp-load)
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/mcp-server ./cmd/mcp-server
go build -o bin/mcp-load ./cmd/mcp-load

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-measure.XXXXXX")"
PID=""
cleanup() {
  [ -z "$PID" ] || kill -TERM "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
unset MODELGATE_DATABASE_URL MODELGATE_SECRETS_KEY
export MODELGATE_DATA_DIR="$WORK/data" MODELGATE_LOG_LEVEL=warn
TOKEN=$(bin/mcp-server token create --org load --name measure 2>/dev/null)

# start TRANSPORT: starts the server, sets PID and ADDR.
start() {
  bin/mcp-server serve --transport "$1" --addr 127.0.0.1:0 --log-level info 2>"$WORK/$1.log" &
  PID=$!
  ADDR=""
  for _ in $(seq 1 100); do
    ADDR=$(sed -n 's/.*"addr":"\([0-9.]*:[0-9]*\)".*/\1/p' "$WORK/$1.log" | head -n1)
    [ -n "$ADDR" ] && break
    sleep 0.1
  done
  [ -n "$ADDR" ] || { cat "$WORK/$1.log" >&2; exit 1; }
  sleep 2 # let start-up garbage be collected before the idle reading
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=""; }

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
start http
echo "== streamable HTTP (pid $PID, $ADDR)"
bin/mcp-load -url "http://$ADDR/mcp" -token "$TOKEN" -c 32 -pid "$PID" "$@"
stop

start sse
echo "== SSE (pid $PID, $ADDR)"
bin/mcp-load -url "http://$ADDR/sse" -token "$TOKEN" -sse 1000 -pid "$PID"
stop
