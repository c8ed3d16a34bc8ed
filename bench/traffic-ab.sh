#!/usr/bin/env bash
# traffic-ab.sh — the cost of cors and correlation-id, in one interleaved wrk run (proxy-bench.sh
# is the harness):
#   argus-off  Argus with no plugin
#   argus-cc   Argus with a global cors (origins "*", credentials) and correlation-id
#              (uuid#counter, echoed downstream); every request carries an Origin, so cors adds
#              its headers and correlation-id generates, forwards and echoes an id
# next to direct and nginx for reference. The goal: argus-cc within 2 % of argus-off in req/s.
#
#   bench/traffic-ab.sh                      # 5 rounds x 10 s, 50 connections
#   ROUNDS=1 DURATION=3 bench/traffic-ab.sh  # quick check
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

OFF_PORT=18090 ON_PORT=18092
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n%b" "$UPSTREAM" "$EXTRA_YAML" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
run='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
CC='plugins:\n  - name: cors\n    config: {origins: ["*"], credentials: true}\n  - name: correlation-id\n    config: {echo_downstream: true}\n'
export EXTRA_NAME=argus-off EXTRA_PORT=$OFF_PORT
export EXTRA_CMD="EXTRA_YAML=''; $config; $run"
export EXTRA2_NAME=argus-cc EXTRA2_PORT=$ON_PORT
export EXTRA2_CMD="EXTRA_YAML='$CC'; $config; $run"
export REQ_HEADER=${REQ_HEADER:-"Origin: https://app.example.com"}
export SYSTEMS=${SYSTEMS:-"direct nginx argus-off argus-cc"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-traffic-ab-c${CONNS:-50}}
"$HERE/proxy-bench.sh"
