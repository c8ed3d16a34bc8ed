#!/usr/bin/env bash
# redis-ab.sh — two Argus binaries side by side on a route limited by rate-limiting with
# `policy: redis` (a limit never reached: every request runs the Redis script), in one interleaved
# run next to nginx (proxy-bench.sh is the harness). Shows what a Redis check costs each binary:
# session 9 moved the Redis clients from companion SwiftNIO loops (a thread hop there and back per
# check) onto the proxy's own loop.
#
#   BASE=/tmp/argus-before NEW=/tmp/argus-after ROUNDS=5 DURATION=8 bench/redis-ab.sh
#
# A redis-server is started on 127.0.0.1:16399 (stopped by PID at the end); its CPU is part of
# what is measured, so it does not count as a disturbance (MAX_FOREIGN).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
: "${BASE:?set BASE to the binary to compare against}"
NEW=${NEW:-$ROOT/.build-release/release/argus}
REDIS_PORT=16399
REDIS_DIR=$(mktemp -d)
redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$REDIS_DIR" --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
until redis-cli -p $REDIS_PORT ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
trap 'kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; rm -rf "$REDIS_DIR"' EXIT
export MAX_FOREIGN=${MAX_FOREIGN:-100}
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\nplugins:\n  - name: rate-limiting\n    config: {second: 1000000000, limit_by: ip, policy: redis, redis: {host: 127.0.0.1, port: '$REDIS_PORT'}}\n" "$UPSTREAM" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
run='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
export EXTRA_NAME=base EXTRA_PORT=18090 EXTRA_CMD="ARGUS_BIN='$BASE'; $config; $run"
export EXTRA2_NAME=new EXTRA2_PORT=18092 EXTRA2_CMD="ARGUS_BIN='$NEW'; $config; $run"
export SYSTEMS=${SYSTEMS:-"nginx base new"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-redis-ab-c${CONNS:-50}}
exec "$HERE/proxy-bench.sh"
