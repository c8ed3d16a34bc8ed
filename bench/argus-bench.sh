#!/usr/bin/env bash
# argus-bench.sh — Argus next to direct, nginx and HAProxy in one interleaved wrk run
# (proxy-bench.sh is the harness; see bench/README.md).
#
#   bench/argus-bench.sh                          # 5 rounds x 10 s, 50 connections, pinned
#   CONNS=200 bench/argus-bench.sh
#   ROUNDS=1 DURATION=3 bench/argus-bench.sh      # quick check
#
# Builds the release binary first. Needs: apt-get install -y nginx haproxy wrk curl procps util-linux
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

export EXTRA_NAME=${EXTRA_NAME:-argus}
export EXTRA_PORT=${EXTRA_PORT:-18090}
# The kong.yml routes everything to the harness's backend.
export EXTRA_CMD='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n" "$UPSTREAM" > "$BENCH_WORK/kong.yml"
exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" \
  --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" \
  --data-dir "$BENCH_WORK/argus-data" --log-level warning'
export SYSTEMS=${SYSTEMS:-"direct nginx haproxy"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-c${CONNS:-50}}
exec "$HERE/proxy-bench.sh"
