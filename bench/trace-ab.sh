#!/usr/bin/env bash
# trace-ab.sh — what tracing costs (issue 25), in one interleaved wrk run:
#   nginx            proxy_pass, no access log (the scale)
#   argus            no plugins
#   argus-trace-0    opentelemetry, sampling_rate 0: ids chosen, traceparent injected, nothing exported
#   argus-trace-001  sampling_rate 0.01
#   argus-trace-1    sampling_rate 1: every request's two spans (kong, kong.balancer) sent over
#                    OTLP/HTTP in batches of 200 to the harness's backend (it answers any POST with 200)
#   argus-zipkin-001 zipkin, sample_ratio 0.01, batches of 200 requests to the same backend
#   argus-zipkin-1   zipkin, sample_ratio 1: every request's three spans as Zipkin v2 JSON
# Each argus-trace-* row against `argus` is an A/B pair. proxy-bench.sh is the harness (CPU per
# request of the whole process, all threads; medians of ROUNDS rounds, the order rotating).
#
#   bench/trace-ab.sh                 # 3 rounds x 10 s, 50 connections
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

zipkin() { printf '  - name: zipkin\\n    config: {http_endpoint: \\"http://$UPSTREAM/api/v2/spans\\", sample_ratio: %s, queue: {max_batch_size: 200}, spool_max_bytes: 4294967296}\\n' "$1"; }
otel() { printf '  - name: opentelemetry\\n    config: {traces_endpoint: \\"http://$UPSTREAM/v1/traces\\", sampling_rate: %s, spool_max_bytes: 4294967296}\\n' "$1"; }
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n%b" "$UPSTREAM" "$PLUGINS" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
run='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'

names=(argus argus-trace-0 argus-trace-001 argus-trace-1 argus-zipkin-001 argus-zipkin-1)
lists=("" "$(otel 0)" "$(otel 0.01)" "$(otel 1)" "$(zipkin 0.01)" "$(zipkin 1)")
suffixes=("" 2 3 4 5 6)
for i in "${!names[@]}"; do
    n=${suffixes[$i]}
    plugins=""
    [[ -n ${lists[$i]} ]] && plugins="plugins:\\n${lists[$i]}"
    export "EXTRA${n}_NAME=${names[$i]}" "EXTRA${n}_PORT=$((18190 + i))"
    export "EXTRA${n}_CMD=PLUGINS=\"$plugins\"; $config; $run"
done
export SYSTEMS=${SYSTEMS:-"nginx ${names[*]}"}
export ROUNDS=${ROUNDS:-3}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-trace-ab-c${CONNS:-50}}
exec "$HERE/proxy-bench.sh"
