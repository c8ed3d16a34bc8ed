#!/usr/bin/env bash
# h2-ab.sh — two Argus binaries over HTTP/2, alternating, under h2load (issue 22).
#
# Starts the harness's nginx backend (core 0), then for each of ROUNDS rounds runs A and then B
# (one worker, pinned to core 1, `--proxy-listen "… http2 ssl"`, or `http2` alone with H2C=1):
# 2 s of warm-up, D seconds of `h2load -c CONNS -m STREAMS` (core 0), and prints each binary's
# req/s and the CPU of its whole process per request (/proc/PID/stat). On this shared machine a
# change shows as the same sign round after round, not in one pair.
#
#   bench/h2-ab.sh /tmp/argus-old .build-release/release/argus
#   H2C=1 ROUNDS=5 bench/h2-ab.sh A B
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
A=$(realpath "$1"); B=$(realpath "$2")
ROUNDS=${ROUNDS:-3}; D=${D:-6}; CONNS=${CONNS:-50}; STREAMS=${STREAMS:-1}
BACKEND_PORT=${BACKEND_PORT:-18180}; PORT=${PORT:-18182}
W=$(mktemp -d)
for tool in nginx h2load openssl taskset curl; do command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }; done
mkdir -p "$W/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$W/k.key" -out "$W/c.crt" -subj /CN=localhost -days 2 2>/dev/null
sed -e "s|@WORK@|$W|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$HERE/conf/backend.nginx.conf.tmpl" > "$W/backend.conf"
setsid taskset -c 0 nginx -c "$W/backend.conf" -e "$W/backend.err" >/dev/null 2>&1 & BACKEND=$!
PID=
trap 'kill -- -$BACKEND 2>/dev/null || true; [[ -n $PID ]] && kill -- -$PID 2>/dev/null || true' EXIT
printf '_format_version: "3.0"\nservices:\n  - name: backend\n    url: http://127.0.0.1:%s\n    routes: [{name: all, paths: ["/"]}]\n' "$BACKEND_PORT" > "$W/kong.yml"
listen="127.0.0.1:$PORT http2 ssl"; url="https://127.0.0.1:$PORT/"; ready=(--http2)
if [[ -n ${H2C:-} ]]; then listen="127.0.0.1:$PORT http2"; url="http://127.0.0.1:$PORT/"; ready=(--http2-prior-knowledge); fi
hz=$(getconf CLK_TCK)
for round in $(seq 1 "$ROUNDS"); do
    for bin in "$A" "$B"; do
        setsid taskset -c 1 "$bin" start --config "$W/kong.yml" --proxy-listen "$listen" --ssl-cert "$W/c.crt" --ssl-cert-key "$W/k.key" \
            --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers 1 --data-dir "$W/data" --log-level warning > "$W/argus.out" 2>&1 & PID=$!
        for _ in $(seq 1 100); do curl -sk "${ready[@]}" -o /dev/null "$url" && break; sleep 0.1; done
        taskset -c 0 h2load -c "$CONNS" -m "$STREAMS" -D 2 "$url" >/dev/null 2>&1 || true
        before=$(awk '{print $14 + $15}' "/proc/$PID/stat")
        out=$(taskset -c 0 h2load -c "$CONNS" -m "$STREAMS" -D "$D" "$url" 2>&1)
        after=$(awk '{print $14 + $15}' "/proc/$PID/stat")
        n=$(awk '/^requests:/ {print $8}' <<<"$out")
        awk -v r="$round" -v b="$bin" -v n="$n" -v d="$D" -v t=$((after - before)) -v hz="$hz" \
            'BEGIN { printf "round %s  %-60s %8.0f req/s  %6.1f µs/req\n", r, b, n / d, t / hz * 1e6 / n }'
        kill -- -"$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; sleep 0.3
    done
done
