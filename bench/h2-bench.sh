#!/usr/bin/env bash
# h2-bench.sh — HTTP/2 to clients, Argus next to nginx, interleaved, with h2load (nghttp2-client).
#
# For each transport (h2c: prior knowledge on a plain listener flagged http2; h2: TLS with ALPN,
# ECDSA P-256) and each load shape, over ROUNDS rounds alternating the order of the systems:
#   s1     CONNS1 connections, 1 stream each at a time      (-c CONNS1 -m 1)
#   s100   CONNS100 connections, 100 concurrent streams each (-c CONNS100 -m 100)
# against nginx (`listen ... http2`, proxy_pass over HTTP/1.1 with upstream keep-alive, no access
# log, 1 worker) and Argus (`--proxy-listen "... http2 [ssl]"`, 1 worker), both pinned to
# PROXY_CPU; h2load and the backend on LOAD_CPU. Prints req/s and the proxy's CPU µs per request
# (all its threads, from /proc/PID/stat) per system, and the Argus/nginx ratios; one "BENCH" line each.
#
# Usage: ARGUS=.build-release/release/argus ROUNDS=3 DURATION=8 bench/h2-bench.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ARGUS=$(realpath "${ARGUS:-$ROOT/.build-release/release/argus}")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS1=${CONNS1:-50}
CONNS100=${CONNS100:-4}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
TRANSPORTS=${TRANSPORTS:-"h2c h2"}
SHAPES=${SHAPES:-"s1 s100"}
BACKEND_PORT=${BACKEND_PORT:-18180}
NGINX_PORT=${NGINX_PORT:-18181}
ARGUS_PORT=${ARGUS_PORT:-18182}
TOOLS="h2load nginx openssl taskset curl"
source "$HERE/lib/pinned.sh"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/ecdsa.key" -out "$WORK/ecdsa.crt" \
    -subj /CN=localhost -days 2 2>/dev/null


start_nginx() {  # start_nginx TRANSPORT
    local listen="listen 127.0.0.1:$NGINX_PORT http2 backlog=4096;"
    [[ $1 == h2 ]] && listen="listen 127.0.0.1:$NGINX_PORT ssl http2 backlog=4096; ssl_certificate $WORK/ecdsa.crt; ssl_certificate_key $WORK/ecdsa.key; ssl_protocols TLSv1.2 TLSv1.3;"
    cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 8192; }
http {
    access_log off;
    server_tokens off;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    http2_max_requests 1000000;
    client_body_temp_path $WORK/tmp/b; proxy_temp_path $WORK/tmp/p; fastcgi_temp_path $WORK/tmp/f;
    uwsgi_temp_path $WORK/tmp/u; scgi_temp_path $WORK/tmp/s;
    upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 256; keepalive_requests 1000000; }
    server {
        $listen
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
    setsid taskset -c "$PROXY_CPU" nginx -c "$WORK/nginx.conf" >/dev/null 2>&1 & NGINX_PID=$!
    PIDS+=($NGINX_PID)
}

start_argus() {  # start_argus TRANSPORT
    local listen="127.0.0.1:$ARGUS_PORT http2"
    [[ $1 == h2 ]] && listen="127.0.0.1:$ARGUS_PORT http2 ssl"
    cat > "$WORK/kong.yml" <<CONF
_format_version: "3.0"
services:
  - name: backend
    url: http://127.0.0.1:$BACKEND_PORT
    routes: [{name: all, paths: ["/"]}]
CONF
    setsid taskset -c "$PROXY_CPU" "$ARGUS" start --config "$WORK/kong.yml" --proxy-listen "$listen" \
        --ssl-cert "$WORK/ecdsa.crt" --ssl-cert-key "$WORK/ecdsa.key" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 \
        --workers 1 --data-dir "$WORK/argus-data" --log-level warning >"$WORK/argus.out" 2>&1 & ARGUS_PID=$!
    PIDS+=($ARGUS_PID)
}

url() { [[ $1 == h2 ]] && echo "https://127.0.0.1:$2/" || echo "http://127.0.0.1:$2/"; }
wait_ready() {  # wait_ready TRANSPORT PORT
    local flag=--http2-prior-knowledge; [[ $1 == h2 ]] && flag=--http2
    for _ in $(seq 1 100); do curl -sk $flag -o /dev/null "$(url "$1" "$2")" && return 0; sleep 0.1; done; echo "not ready on $2"; exit 1
}
nginx_worker() { pgrep -P "$NGINX_PID" | head -1; }

measure() {  # measure TRANSPORT PORT PID SHAPE -> "reqs cpu_us_per_req"
    local transport=$1 port=$2 pid=$3 shape=$4 args out before after
    if [[ $shape == s1 ]]; then args=(-c "$CONNS1" -m 1); else args=(-c "$CONNS100" -m 100); fi
    taskset -c "$LOAD_CPU" h2load "${args[@]}" -D 2 "$(url "$transport" "$port")" >/dev/null 2>&1 || true   # warm-up
    before=$(cpu_ticks "$pid")
    out=$(taskset -c "$LOAD_CPU" h2load "${args[@]}" -D "$DURATION" "$(url "$transport" "$port")" 2>&1)
    after=$(cpu_ticks "$pid")
    local done=$(awk '/^requests:/ {print $8}' <<<"$out")
    local secs=$(awk '/^finished in/ {v=$3; sub(/s,$/, "", v); if (v ~ /ms/) { sub(/ms/, "", v); v = v / 1000 }; print v}' <<<"$out")
    grep -q " 0 failed" <<<"$out" || echo "h2load reported failures: $(grep '^requests:' <<<"$out")" >&2
    awk -v n="$done" -v s="$secs" -v d=$((after - before)) -v hz="$HZ" 'BEGIN { printf "%.0f %.1f\n", (s > 0 ? n / s : 0), (n > 0 ? d / hz * 1e6 / n : 0) }'
}

echo "| transport | streams | system | req/s (median) | CPU µs/req (median) |"
echo "|---|---|---|---:|---:|"
for transport in $TRANSPORTS; do
    start_nginx "$transport"; start_argus "$transport"
    wait_ready "$transport" "$NGINX_PORT"; wait_ready "$transport" "$ARGUS_PORT"
    NW=$(nginx_worker)
    for shape in $SHAPES; do
        declare -A R=() C=()
        for round in $(seq 1 "$ROUNDS"); do
            order="nginx argus"; (( round % 2 == 0 )) && order="argus nginx"
            for sys in $order; do
                if [[ $sys == nginx ]]; then set -- $(measure "$transport" "$NGINX_PORT" "$NW" "$shape"); else set -- $(measure "$transport" "$ARGUS_PORT" "$ARGUS_PID" "$shape"); fi
                R[$sys]+="$1 "; C[$sys]+="$2 "
            done
        done
        nr=$(median "${R[nginx]}"); ar=$(median "${R[argus]}"); nc=$(median "${C[nginx]}"); ac=$(median "${C[argus]}")
        echo "| $transport | $shape | nginx | $nr | $nc |"
        echo "| $transport | $shape | argus | $ar | $ac |"
        awk -v t="$transport" -v m="$shape" -v nr="$nr" -v ar="$ar" -v nc="$nc" -v ac="$ac" \
            'BEGIN { printf "BENCH transport=%s shape=%s argus_rps=%s nginx_rps=%s rps_ratio=%.2f argus_cpu_us=%s nginx_cpu_us=%s cpu_ratio=%.2f\n", t, m, ar, nr, ar / nr, ac, nc, ac / nc }' >&2
        unset R C
    done
    kill -TERM -- "-$NGINX_PID" 2>/dev/null || true; kill -TERM -- "-$ARGUS_PID" 2>/dev/null || true; sleep 1
done
