#!/usr/bin/env bash
# measure-sse-stuck.sh: the SSE memory number of docs/network.md (issue 11,
# finding 4). Builds the server, serves SSE on a temporary embedded store on a
# free loopback port, and runs measure-sse-stuck.py: a client that opens
# /sse, never reads, and posts 4,000 calls; prints the server's RSS.
# Usage: scripts/measure-sse-stuck.sh [BINARY]   (default: builds bin/mcp-server)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-}"
if [ -z "$BIN" ]; then
  go build -o bin/mcp-server ./cmd/mcp-server
  BIN=bin/mcp-server
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-sse.XXXXXX")"
PID=""
cleanup() {
  [ -z "$PID" ] || kill -TERM "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
unset MODELGATE_DATABASE_URL MODELGATE_SECRETS_KEY
export MODELGATE_DATA_DIR="$WORK/data" MODELGATE_LOG_LEVEL=warn
TOKEN=$("$BIN" token create --org load --name measure 2>/dev/null)
"$BIN" serve --transport sse --addr 127.0.0.1:0 --log-level info 2>"$WORK/sse.log" &
PID=$!
ADDR=""
for _ in $(seq 1 100); do
  ADDR=$(sed -n 's/.*"addr":"\([0-9.]*:[0-9]*\)".*/\1/p' "$WORK/sse.log" | head -n1)
  [ -n "$ADDR" ] && break
  sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/sse.log" >&2; exit 1; }
sleep 2 # let start-up garbage be collected before the first reading
echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); server $BIN (pid $PID)"
python3 scripts/measure-sse-stuck.py "$ADDR" "$TOKEN" "$PID" 4000 15
grep -c "does not read its stream" "$WORK/sse.log" | sed 's/^/stuck streams disconnected: /' || true
