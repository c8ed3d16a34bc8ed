#!/usr/bin/env bash
# instructions-ab.sh — instructions per request of two Argus binaries, counted by valgrind
# (callgrind's Ir): a figure this noisy, shared machine reproduces to within a percent, unlike
# req/s or CPU time. Each binary serves N1 and then (a fresh process) N2 keep-alive requests from
# wrk-like load (curl --parallel, keep-alive), under callgrind; per request = (Ir(N2) - Ir(N1)) / (N2 - N1),
# so start-up and shutdown cancel out. The backend is the harness's nginx (64-byte body).
#
#   BASE=/tmp/argus-before NEW=/tmp/argus-after bench/instructions-ab.sh
#   EXTRA_YAML='plugins: [{name: prometheus}]' ... (appended to the kong.yml of both)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
: "${BASE:?set BASE to the binary to compare against}"
NEW=${NEW:-$ROOT/.build-release/release/argus}
N1=${N1:-2000}
N2=${N2:-12000}
CONNS=${CONNS:-10}
EXTRA_YAML=${EXTRA_YAML:-}
WORK=$(mktemp -d)
BACKEND_PORT=${BACKEND_PORT:-18180}
PROXY_PORT=${PROXY_PORT:-18190}
mkdir -p "$WORK/tmp"
sed -e "s|@WORK@|$WORK|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$HERE/conf/backend.nginx.conf.tmpl" > "$WORK/backend.conf"
nginx -p "$WORK" -e "$WORK/backend.error.log" -c "$WORK/backend.conf" &
BACKEND=$!
cleanup() { kill "$BACKEND" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
until curl -sf "http://127.0.0.1:$BACKEND_PORT/" >/dev/null; do sleep 0.1; done
printf '_format_version: "3.0"\nservices:\n  - name: backend\n    url: http://127.0.0.1:%s\n    routes:\n      - name: all\n        paths: ["/"]\n%b\n' \
    "$BACKEND_PORT" "$EXTRA_YAML" > "$WORK/kong.yml"

# requests N: N keep-alive requests over CONNS connections (curl reuses each connection).
load() {
    local n=$1 per=$(( $1 / CONNS )) i
    for ((i = 0; i < CONNS; i++)); do
        curl -s -o /dev/null $(for ((j = 0; j < per; j++)); do printf 'http://127.0.0.1:%s/ ' "$PROXY_PORT"; done) &
    done
    wait
}

# ir BINARY N: total instructions of one process that serves N requests
ir() {
    local bin=$1 n=$2 out="$WORK/cg.$RANDOM"
    valgrind --tool=callgrind --callgrind-out-file="$out" --trace-children=no \
        "$bin" start --config "$WORK/kong.yml" --proxy-listen "127.0.0.1:$PROXY_PORT" --admin-listen 127.0.0.1:0 \
        --status-listen 127.0.0.1:0 --workers 1 --data-dir "$WORK/data" --log-level error >/dev/null 2>"$WORK/vg.log" &
    local pid=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$PROXY_PORT/"; do
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/vg.log" >&2; echo "valgrind stopped" >&2; exit 1; }
        sleep 0.2
    done
    load "$n"
    kill -TERM "$pid"
    wait "$pid" || true
    # the totals line: "summary: <Ir>"
    awk '/^summary:/ {print $2}' "$out"
}

# valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes: count a copy without it
# (the code is the same bytes).
strip --strip-debug -o "$WORK/base" "$BASE"
strip --strip-debug -o "$WORK/new" "$NEW"
for name in base new; do
    bin=$WORK/$name
    a=$(ir "$bin" "$N1")
    b=$(ir "$bin" "$N2")
    per=$(( (b - a) / (N2 - N1) ))
    echo "BENCH instructions system=$name n1=$N1 n2=$N2 ir_n1=$a ir_n2=$b instructions_per_request=$per"
done
