#!/usr/bin/env bash
# upstream-ab.sh — the cost of balancing with health checks, in one interleaved wrk run
# (proxy-bench.sh is the harness):
#   argus-single  a service pointing straight at the backend
#   argus-pool    the same service through an upstream of three targets (the backend on
#                 127.0.0.1, .2 and .3), round-robin, active checks every second and passive
#                 checks on every try
# next to direct and nginx for reference. The goal: argus-pool within 3 % of argus-single.
#
#   bench/upstream-ab.sh                      # 5 rounds x 10 s, 50 connections
#   ROUNDS=1 DURATION=3 bench/upstream-ab.sh  # quick check
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

SINGLE_PORT=18090 POOL_PORT=18092
run='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
single='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n" "$UPSTREAM" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
pool='P=${UPSTREAM##*:}; printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    host: pool\n    routes:\n      - name: all\n        paths: [\"/\"]\nupstreams:\n  - name: pool\n    healthchecks: {active: {healthy: {interval: 1, successes: 1}, unhealthy: {interval: 1, tcp_failures: 2, http_failures: 2}}, passive: {unhealthy: {tcp_failures: 3, timeouts: 3}}}\n    targets:\n      - {target: \"127.0.0.1:%s\"}\n      - {target: \"127.0.0.2:%s\"}\n      - {target: \"127.0.0.3:%s\"}\n" "$P" "$P" "$P" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
export EXTRA_NAME=argus-single EXTRA_PORT=$SINGLE_PORT
export EXTRA_CMD="$single; $run"
export EXTRA2_NAME=argus-pool EXTRA2_PORT=$POOL_PORT
export EXTRA2_CMD="$pool; $run"
export SYSTEMS=${SYSTEMS:-"direct nginx argus-single argus-pool"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-upstream-ab-c${CONNS:-50}}
"$HERE/proxy-bench.sh"
