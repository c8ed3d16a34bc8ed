#!/usr/bin/env bash
# ratelimit-ab.sh — the cost of the rate-limiting plugin, in one interleaved wrk run (proxy-bench.sh
# is the harness):
#   argus-off  Argus with no plugin
#   argus-rl   Argus with a global rate-limiting instance whose limit is never reached
#              (second: 1e9, limit_by ip: every request checks and counts the same hot key)
# next to direct and nginx for reference. POLICY=local (default) measures the local counter store
# (the goal: argus-rl within 5 % of argus-off in req/s); POLICY=redis starts a redis-server on
# 127.0.0.1:16399 (stopped by PID at the end) and measures the round trip the redis policy adds
# (compare p50/p99); POLICY=sync does the same with sync_rate: 0.1 (no Redis on the request path);
# POLICY=response measures response-ratelimiting instead (a `video` limit never reached: the
# access phase's reading of the local counters and the X-RateLimit headers on every response; the
# harness's backend names no spending, so nothing is counted from the ring).
#
#   bench/ratelimit-ab.sh                                  # 5 rounds x 10 s, 50 connections
#   POLICY=redis ROUNDS=3 DURATION=5 bench/ratelimit-ab.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
POLICY=${POLICY:-local}

source "$HERE/argus-ab.sh"

REDIS_PORT=16399
case $POLICY in
    local) RL="{second: 1000000000, limit_by: ip}" ;;
    redis) RL="{second: 1000000000, limit_by: ip, policy: redis, redis: {host: 127.0.0.1, port: $REDIS_PORT}}" ;;
    sync) RL="{second: 1000000000, limit_by: ip, policy: redis, sync_rate: 0.1, redis: {host: 127.0.0.1, port: $REDIS_PORT}}" ;;
    response) RL="{limits: {video: {second: 1000000000}}, limit_by: ip}" ;;
    *) echo "POLICY must be local, redis, sync or response" >&2; exit 2 ;;
esac
PLUGIN=rate-limiting
[[ $POLICY == response ]] && PLUGIN=response-ratelimiting
if [[ $POLICY != local && $POLICY != response ]]; then
    REDIS_DIR=$(mktemp -d)
    redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$REDIS_DIR" --save '' --appendonly no \
        --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
    until redis-cli -p $REDIS_PORT ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
    trap 'kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; rm -rf "$REDIS_DIR"' EXIT
    # Redis is part of what is measured here: its CPU is not a disturbance.
    export MAX_FOREIGN=${MAX_FOREIGN:-100}
fi

argus_ab argus-off '' argus-rl "plugins: [{name: $PLUGIN, config: $RL}]\n" "ratelimit-$POLICY"
