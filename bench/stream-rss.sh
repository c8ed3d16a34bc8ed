#!/usr/bin/env bash
# stream-rss.sh — 1 GiB download and 1 GiB uploads (Content-Length and chunked) through Argus,
# sampling Argus's resident memory every 0.1 s. Back-pressure in both directions keeps it flat.
#   bench/stream-rss.sh            (SIZE=1073741824 by default)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SIZE=${SIZE:-1073741824}
BACKEND_PORT=${BACKEND_PORT:-18181}
PROXY_PORT=${PROXY_PORT:-18182}
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
python3 "$HERE/stream_backend.py" "$BACKEND_PORT" & pids+=($!)
printf '_format_version: "3.0"\nservices:\n  - name: s\n    url: http://127.0.0.1:%s\n    routes:\n      - name: r\n        paths: ["/"]\n' "$BACKEND_PORT" > "$WORK/kong.yml"
"$ROOT/.build-release/release/argus" start --config "$WORK/kong.yml" --proxy-listen "127.0.0.1:$PROXY_PORT" \
    --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers 1 --data-dir "$WORK/data" --log-level warning &
ARGUS=$!; pids+=($ARGUS)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PROXY_PORT/download/1" && break; sleep 0.1; done

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$ARGUS/status"; }
measure() {  # name, command...
    local name=$1; shift
    local peak; peak=$(rss_kib); local start=$peak
    "$@" > "$WORK/out" 2>&1 & local job=$!
    local t0; t0=$(date +%s.%N)
    while kill -0 "$job" 2>/dev/null; do
        local now; now=$(rss_kib); [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.1
    done
    wait "$job"
    local t1; t1=$(date +%s.%N)
    printf '| %s | %s | %d | %d | %.1f |\n' "$name" "$(head -c 60 "$WORK/out")" $((start / 1024)) $((peak / 1024)) \
        "$(echo "$SIZE / 1048576 / ($t1 - $t0)" | bc -l)"
}
truncate -s "$SIZE" "$WORK/upload.bin"
echo "| transfer of $SIZE bytes | result | RSS before MiB | peak RSS MiB | MiB/s |"
echo "|---|---|---:|---:|---:|"
measure "download (Content-Length)" curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$PROXY_PORT/download/$SIZE"
measure "upload (Content-Length)" curl -s -T "$WORK/upload.bin" "http://127.0.0.1:$PROXY_PORT/upload"
measure "upload (chunked)" bash -c "head -c $SIZE /dev/zero | curl -s -T - -H 'Transfer-Encoding: chunked' http://127.0.0.1:$PROXY_PORT/upload"
