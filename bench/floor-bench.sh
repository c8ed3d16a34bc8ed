#!/usr/bin/env bash
# floor-bench.sh — nginx, Argus and `floor` (bench/floor/EpollProxy.swift: a bare epoll proxy in
# plain Swift, no SwiftNIO) in one interleaved wrk run (proxy-bench.sh is the harness). What floor
# costs per request is what the transport alone costs when written for this one job; Argus's
# figure minus floor's is SwiftNIO's channel machinery plus Argus's own request handling.
#
#   bench/floor-bench.sh                       # 5 rounds x 10 s, 50 connections, pinned
#   CONNS=200 bench/floor-bench.sh
#   FLOOR=loop bench/floor-bench.sh            # the same bare proxy on ArgusLoop's IOLoop and
#                                              # TCPConnection (`argus-bench loop-proxy`) instead
#
# Needs what argus-bench.sh needs (nginx, wrk) and swiftc.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
(cd "$ROOT" && swift build -c release --product argus-bench --scratch-path .build-release >/dev/null)
export BENCH_BIN="$ROOT/.build-release/release/argus-bench"
mkdir -p "$ROOT/.build-release/floor"
swiftc -O -import-objc-header "$HERE/floor/shim.h" -o "$ROOT/.build-release/floor/floor" "$HERE/floor/EpollProxy.swift"
export FLOOR_BIN="$ROOT/.build-release/floor/floor"
export ARGUS_BIN="$ROOT/.build-release/release/argus"

export EXTRA_NAME=argus EXTRA_PORT=18090
export EXTRA_CMD='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n" "$UPSTREAM" > "$BENCH_WORK/kong.yml"
exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" \
  --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" \
  --data-dir "$BENCH_WORK/argus-data" --log-level warning'
if [[ ${FLOOR:-epoll} == loop ]]; then
    export EXTRA2_NAME=loop-floor EXTRA2_PORT=18092
    export EXTRA2_CMD='exec "$BENCH_BIN" loop-proxy "$LISTEN_PORT" "${UPSTREAM##*:}"'
else
    export EXTRA2_NAME=floor EXTRA2_PORT=18092
    export EXTRA2_CMD='exec "$FLOOR_BIN" "$LISTEN_PORT" "${UPSTREAM##*:}"'
fi
export SYSTEMS=${SYSTEMS:-"nginx argus $EXTRA2_NAME"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$EXTRA2_NAME-c${CONNS:-50}}
exec "$HERE/proxy-bench.sh"
