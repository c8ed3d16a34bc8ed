#!/usr/bin/env bash
# cache-ab.sh — what a proxy-cache hit costs, in one interleaved wrk run (proxy-bench.sh is the
# harness):
#   argus-off    Argus with no plugin (every request goes upstream)
#   argus-cache  Argus with a global proxy-cache (the backend's text/plain answer is stored on
#                the first request; every later one is a hit and never touches the upstream)
# next to direct and nginx (proxy_pass, no cache). The goal: a hit costs less CPU per request
# (the summary's "CPU µs/req") than nginx's proxy_pass miss.
#
#   bench/cache-ab.sh                      # 5 rounds x 10 s, 50 connections
#   ROUNDS=1 DURATION=3 bench/cache-ab.sh  # quick check
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

OFF_PORT=18090 ON_PORT=18092
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n%b" "$UPSTREAM" "$EXTRA_YAML" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
run='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
CACHE='plugins:\n  - name: proxy-cache\n    config: {strategy: memory, cache_ttl: 3600}\n'
export EXTRA_NAME=argus-off EXTRA_PORT=$OFF_PORT
export EXTRA_CMD="EXTRA_YAML=''; $config; $run"
export EXTRA2_NAME=argus-cache EXTRA2_PORT=$ON_PORT
export EXTRA2_CMD="EXTRA_YAML='$CACHE'; $config; $run"
export SYSTEMS=${SYSTEMS:-"direct nginx argus-off argus-cache"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-cache-ab-c${CONNS:-50}}
"$HERE/proxy-bench.sh"
