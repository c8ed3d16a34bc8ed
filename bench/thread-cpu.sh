#!/usr/bin/env bash
# thread-cpu.sh — where one Argus spends its CPU, thread by thread, under wrk (issue 24, 25).
#
# Starts the harness's nginx backend (core 0) and one Argus (one worker, pinned to core 1) with the
# plugins named in PLUGINS, warms up 2 s, runs wrk (HTTP/1.1, 50 connections, DURATION s, core 0),
# and prints each thread's CPU µs per request (user and system, from /proc/PID/task/*/stat) and
# the process's total. The threads carry their names (`argus-x-logs`, `argus-http-log`, …; the
# proxy loop is the busiest one). PERF=1 also records a `perf record -g` profile of 4 s into
# $OUT/perf.data. Alternate two binaries (ARGUS=…) a few times for an A/B on this noisy machine:
# the figures move by 10–20 % between runs; the split between threads is steadier.
#
#   PLUGINS="prometheus file-log http-log rate-limiting" bench/thread-cpu.sh
#   PLUGINS=opentelemetry ARGUS=/tmp/argus-old bench/thread-cpu.sh
#
# PLUGINS words: prometheus (every flag), file-log, http-log (batches of 100 to the backend),
# rate-limiting (local, never reached), opentelemetry (sampling_rate 1), zipkin (sample_ratio 1).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ARGUS=$(realpath "${ARGUS:-$ROOT/.build-release/release/argus}")
DURATION=${DURATION:-8}
BACKEND_PORT=${BACKEND_PORT:-18180}
PORT=${PORT:-18182}
OUT=${OUT:-$(mktemp -d)}
for tool in nginx wrk taskset; do command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }; done
mkdir -p "$OUT/tmp"
rm -rf "$OUT/data" "$OUT/access.log"
sed -e "s|@WORK@|$OUT|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$HERE/conf/backend.nginx.conf.tmpl" > "$OUT/backend.conf"
setsid taskset -c 0 nginx -c "$OUT/backend.conf" -e "$OUT/backend.err" >/dev/null 2>&1 & BACKEND=$!

plugins=""
for p in ${PLUGINS:-}; do
    case $p in
    prometheus) plugins+="  - {name: prometheus, config: {status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true, upstream_health_metrics: true, per_consumer: true}}"$'\n' ;;
    file-log) plugins+="  - {name: file-log, config: {path: $OUT/access.log}}"$'\n' ;;
    http-log) plugins+="  - {name: http-log, config: {http_endpoint: \"http://127.0.0.1:$BACKEND_PORT/logs\", queue: {max_batch_size: 100}, spool_max_bytes: 4294967296}}"$'\n' ;;
    rate-limiting) plugins+="  - {name: rate-limiting, config: {second: 100000000, policy: local}}"$'\n' ;;
    opentelemetry) plugins+="  - {name: opentelemetry, config: {traces_endpoint: \"http://127.0.0.1:$BACKEND_PORT/v1/traces\", sampling_rate: 1, spool_max_bytes: 4294967296}}"$'\n' ;;
    zipkin) plugins+="  - {name: zipkin, config: {http_endpoint: \"http://127.0.0.1:$BACKEND_PORT/api/v2/spans\", sample_ratio: 1, queue: {max_batch_size: 200}, spool_max_bytes: 4294967296}}"$'\n' ;;
    *) echo "unknown plugin $p"; exit 1 ;;
    esac
done
{
    printf '_format_version: "3.0"\nservices:\n  - name: backend\n    url: http://127.0.0.1:%s\n    routes: [{name: all, paths: ["/"]}]\n' "$BACKEND_PORT"
    [[ -n $plugins ]] && printf 'plugins:\n%s' "$plugins"
} > "$OUT/kong.yml"
setsid taskset -c 1 "$ARGUS" start --config "$OUT/kong.yml" --proxy-listen "127.0.0.1:$PORT" --admin-listen 127.0.0.1:0 \
    --status-listen 127.0.0.1:0 --workers 1 --data-dir "$OUT/data" --log-level warning > "$OUT/argus.out" 2>&1 & PID=$!
trap 'kill -- -$PID -$BACKEND 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
taskset -c 0 wrk -t1 -c50 -d2 "http://127.0.0.1:$PORT/" >/dev/null 2>&1

snapshot() {  # "tid:name total user system" per thread, in clock ticks
    for t in /proc/$PID/task/*; do
        echo "$(basename "$t"):$(tr ' ' '_' < "$t/comm") $(awk '{print $14 + $15, $14, $15}' "$t/stat")"
    done | sort
}
snapshot > "$OUT/before"
if [[ -n ${PERF:-} ]]; then (sleep 2; perf record -F 4000 -g -p "$PID" -o "$OUT/perf.data" -- sleep 4 >/dev/null 2>&1) & fi
out=$(taskset -c 0 wrk -t1 -c50 -d"$DURATION" "http://127.0.0.1:$PORT/" 2>&1)
sleep 0.5
snapshot > "$OUT/after"
n=$(awk '/requests in/ {print $1}' <<<"$out")
hz=$(getconf CLK_TCK)
echo "== ${PLUGINS:-no plugins}: $n requests, $(awk '/Requests\/sec/ {print $2}' <<<"$out") req/s ($ARGUS)"
join "$OUT/before" "$OUT/after" | awk -v n="$n" -v hz="$hz" '
    { d = $5 - $2; if (d > 0) printf "  %-24s %6.2f µs/req (user %5.2f, system %5.2f)\n", $1, d / hz * 1e6 / n, ($6 - $3) / hz * 1e6 / n, ($7 - $4) / hz * 1e6 / n; t += d }
    END { printf "  %-24s %6.2f µs/req\n", "total", t / hz * 1e6 / n }'
[[ -n ${PERF:-} ]] && echo "profile: $OUT/perf.data"
