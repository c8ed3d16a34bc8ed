#!/usr/bin/env bash
# binary-ab.sh — two Argus binaries side by side in one interleaved run (proxy-bench.sh is the
# harness), next to nginx: the way to measure a change to the data path on this noisy machine.
#
#   cp .build-release/release/argus /tmp/argus-before      # before the change
#   ... change, swift build -c release --product argus --scratch-path .build-release ...
#   BASE=/tmp/argus-before ROUNDS=6 DURATION=8 bench/binary-ab.sh
#
# BASE (required) and NEW (default: the release build) are the binaries; both get the same
# kong.yml (one service, one route for "/"). SYSTEMS, ROUNDS, CONNS... as for proxy-bench.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
: "${BASE:?set BASE to the binary to compare against}"
NEW=${NEW:-$ROOT/.build-release/release/argus}
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n" "$UPSTREAM" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
run='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
export EXTRA_NAME=base EXTRA_PORT=18090 EXTRA_CMD="ARGUS_BIN='$BASE'; $config; $run"
export EXTRA2_NAME=new EXTRA2_PORT=18092 EXTRA2_CMD="ARGUS_BIN='$NEW'; $config; $run"
export SYSTEMS=${SYSTEMS:-"nginx base new"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-binary-ab-c${CONNS:-50}}
exec "$HERE/proxy-bench.sh"
