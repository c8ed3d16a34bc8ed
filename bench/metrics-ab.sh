#!/usr/bin/env bash
# metrics-ab.sh — the cost of metrics, in one interleaved wrk run (proxy-bench.sh is the harness):
#   argus-off  Argus with no prometheus plugin (the exporter still drains the ring, records nothing)
#   argus-on   Argus with a global prometheus plugin, status code, latency and bandwidth metrics on,
#              and /metrics scraped (gzip, like Prometheus) every second during the whole run
# next to direct and nginx for reference. Compare argus-on with argus-off: req/s, p99, CPU µs/req.
#
#   bench/metrics-ab.sh                      # 5 rounds x 10 s, 50 connections
#   ROUNDS=1 DURATION=3 bench/metrics-ab.sh  # quick check
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

OFF_PORT=18090 ON_PORT=18092 ON_ADMIN=18192
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n%b" "$UPSTREAM" "$PLUGINS" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
run='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen "127.0.0.1:$ADMIN" --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
export EXTRA_NAME=argus-off EXTRA_PORT=$OFF_PORT
export EXTRA_CMD="PLUGINS=''; ADMIN=0; $config; $run"
export EXTRA2_NAME=argus-on EXTRA2_PORT=$ON_PORT
export EXTRA2_CMD="PLUGINS='plugins: [{name: prometheus, config: {status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true, upstream_health_metrics: true}}]\n'; ADMIN=$ON_ADMIN; $config; $run"
export SYSTEMS=${SYSTEMS:-"direct nginx argus-off argus-on"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-metrics-ab-c${CONNS:-50}}

# The scraper: every second, like a Prometheus server (it fails harmlessly while argus-on is down).
(
    scrapes=0 ok=0
    while true; do
        scrapes=$((scrapes + 1))
        if curl -s -o /dev/null -H 'Accept-Encoding: gzip' --max-time 2 "http://127.0.0.1:$ON_ADMIN/metrics"; then ok=$((ok + 1)); fi
        echo "$scrapes $ok" > "${TMPDIR:-/tmp}/argus-metrics-ab-scrapes"
        sleep 1
    done
) &
SCRAPER=$!
trap 'kill $SCRAPER 2>/dev/null || true' EXIT
"$HERE/proxy-bench.sh"
echo "scrapes attempted/succeeded: $(cat "${TMPDIR:-/tmp}/argus-metrics-ab-scrapes" 2>/dev/null)"
