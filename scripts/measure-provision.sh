#!/usr/bin/env bash
# measure-provision.sh: the provision_workspace / bare INSERT ratio of
# docs/performance.md, on PostgreSQL, 8 concurrent callers.
#
# Each run is one process that measures the bare single-row INSERT
# transaction and then provision_workspace (platform model), back to back on
# the same server, with a fixed number of operations each; the ratio of one
# run compares two measurements taken seconds apart. Runs are repeated
# because this machine's speed drifts by tens of percent over minutes:
# `go test -count N` would measure every bare run first and every provision
# run after it, so drift would land in the ratio.
#
# Usage: scripts/measure-provision.sh [-n RUNS] [-ops N]
#   MODELGATE_TEST_DATABASE_URL selects the server (default: local test db).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=8
ops=10000
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs="$2"; shift 2 ;;
    -ops) ops="$2"; shift 2 ;;
    *) echo "usage: $0 [-n RUNS] [-ops N]" >&2; exit 2 ;;
  esac
done

BIN="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-provision.XXXXXX")"
trap 'rm -rf "$BIN"' EXIT
go test -c -o "$BIN/provision.test" ./provision

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
echo "== $runs runs of $ops operations each: bare µs/op, provision µs/op, provision rate / bare rate;"
echo "   then provision with a limit of 1,000 live workspaces per org (orgs filled to 800) and its ratio"
ratios=()
limited=()
for i in $(seq 1 "$runs"); do
  out=$(cd provision && "$BIN/provision.test" -test.run '^$' \
    -test.bench 'ProvisionWorkspace/postgres' -test.benchtime "${ops}x")
  bare=$(awk '/postgres\/bare_insert/ {print $3}' <<<"$out")
  prov=$(awk '/postgres\/provision_platform-/ {print $3}' <<<"$out")
  lim=$(awk '/postgres\/provision_platform_limited-/ {print $3}' <<<"$out")
  if [ -z "$bare" ] || [ -z "$prov" ] || [ -z "$lim" ]; then
    echo "$out" >&2
    exit 1
  fi
  r=$(awk -v b="$bare" -v p="$prov" 'BEGIN {printf "%.2f", b / p}')
  rl=$(awk -v b="$bare" -v p="$lim" 'BEGIN {printf "%.2f", b / p}')
  ratios+=("$r")
  limited+=("$rl")
  awk -v i="$i" -v b="$bare" -v p="$prov" -v r="$r" -v l="$lim" -v rl="$rl" \
    'BEGIN {printf "run %2d  bare %6.1f  provision %6.1f  ratio %s  limited %6.1f  ratio %s\n", i, b / 1000, p / 1000, r, l / 1000, rl}'
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '
  { r[NR] = $1 }
  END {
    med = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
    below = 0
    for (i = 1; i <= NR; i++) if (r[i] < 0.8) below++
    printf "ratio: median %.2f, min %.2f, max %.2f; %d of %d runs below 0.8\n", med, r[1], r[NR], below, NR
  }'
printf '%s\n' "${limited[@]}" | sort -n | awk '
  { r[NR] = $1 }
  END {
    med = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
    printf "with the limit: median %.2f, min %.2f, max %.2f\n", med, r[1], r[NR]
  }'
