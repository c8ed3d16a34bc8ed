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

source "$HERE/argus-ab.sh"
single='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n" "$UPSTREAM" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
pool='P=${UPSTREAM##*:}; printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    host: pool\n    routes:\n      - name: all\n        paths: [\"/\"]\nupstreams:\n  - name: pool\n    healthchecks: {active: {healthy: {interval: 1, successes: 1}, unhealthy: {interval: 1, tcp_failures: 2, http_failures: 2}}, passive: {unhealthy: {tcp_failures: 3, timeouts: 3}}}\n    targets:\n      - {target: \"127.0.0.1:%s\"}\n      - {target: \"127.0.0.2:%s\"}\n      - {target: \"127.0.0.3:%s\"}\n" "$P" "$P" "$P" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
argus_ab_commands argus-single "$single" argus-pool "$pool" upstream-ab
