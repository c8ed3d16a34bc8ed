#!/usr/bin/env bash
# tls-bench.sh — TLS at the edge, Argus next to nginx with the same certificate, interleaved.
#
# For each key type (ECDSA P-256, RSA 2048) and each mode, over ROUNDS rounds alternating the
# order of the systems:
#   keepalive   wrk over https with keep-alive connections (TLS record cost per request)
#   handshake   wrk with "Connection: close": a new TCP connection and full TLS handshake per
#               request (wrk does not resume sessions)
# against nginx (ssl listener, proxy_pass to the backend with upstream keep-alive, no access log,
# 1 worker) and Argus (`--proxy-listen "... ssl" --ssl-cert`, 1 worker), both pinned to PROXY_CPU,
# wrk and the backend on LOAD_CPU. Prints req/s and the proxy's CPU µs per request (all its
# threads, from /proc/PID/stat) per system, and the Argus/nginx ratios; one "BENCH" line each.
#
# Usage: ARGUS=.build-release/release/argus ROUNDS=3 DURATION=8 CONNS=50 bench/tls-bench.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ARGUS=$(realpath "${ARGUS:-$ROOT/.build-release/release/argus}")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-50}
HS_CONNS=${HS_CONNS:-16}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
KEYS=${KEYS:-"ecdsa rsa"}
MODES=${MODES:-"keepalive handshake"}
BACKEND_PORT=${BACKEND_PORT:-18180}
NGINX_PORT=${NGINX_PORT:-18181}
ARGUS_PORT=${ARGUS_PORT:-18182}
TOOLS="wrk nginx openssl taskset curl"
source "$HERE/lib/pinned.sh"


start_nginx() {  # start_nginx KEY
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
    client_body_temp_path $WORK/tmp/b; proxy_temp_path $WORK/tmp/p; fastcgi_temp_path $WORK/tmp/f;
    uwsgi_temp_path $WORK/tmp/u; scgi_temp_path $WORK/tmp/s;
    upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 256; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl backlog=4096;
        ssl_certificate $WORK/$1.crt;
        ssl_certificate_key $WORK/$1.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
    setsid taskset -c "$PROXY_CPU" nginx -c "$WORK/nginx.conf" >/dev/null 2>&1 & NGINX_PID=$!
    PIDS+=($NGINX_PID)
}

start_argus() {  # start_argus KEY
    cat > "$WORK/kong.yml" <<CONF
_format_version: "3.0"
services:
  - name: backend
    url: http://127.0.0.1:$BACKEND_PORT
    routes: [{name: all, paths: ["/"]}]
CONF
    setsid taskset -c "$PROXY_CPU" "$ARGUS" start --config "$WORK/kong.yml" --proxy-listen "127.0.0.1:$ARGUS_PORT ssl" \
        --ssl-cert "$WORK/$1.crt" --ssl-cert-key "$WORK/$1.key" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 \
        --workers 1 --data-dir "$WORK/argus-data" --log-level warning >"$WORK/argus.out" 2>&1 & ARGUS_PID=$!
    PIDS+=($ARGUS_PID)
}

wait_ready() { for _ in $(seq 1 100); do curl -sk -o /dev/null "https://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "not ready on $1"; exit 1; }

# the worker process of nginx (its master does no request work)
nginx_worker() { pgrep -P "$NGINX_PID" | head -1; }

measure() {  # measure NAME PORT PID MODE -> "reqs cpu_us_per_req"
    local name=$1 port=$2 pid=$3 mode=$4 args=(-t1 -c"$CONNS" -d"${DURATION}s") out before after reqs
    [[ $mode == handshake ]] && args=(-t1 -c"$HS_CONNS" -d"${DURATION}s" -H "Connection: close")
    taskset -c "$LOAD_CPU" wrk "${args[@]:0:2}" -d2s "${args[@]:3}" "https://127.0.0.1:$port/" >/dev/null 2>&1 || true   # warm-up
    before=$(cpu_ticks "$pid")
    out=$(taskset -c "$LOAD_CPU" wrk "${args[@]}" "https://127.0.0.1:$port/" 2>&1)
    after=$(cpu_ticks "$pid")
    reqs=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    local total=$(awk '/requests in/ {print $1}' <<<"$out")
    awk -v r="$reqs" -v t="$total" -v d=$((after - before)) -v hz="$HZ" 'BEGIN { printf "%.0f %.1f\n", r, (t > 0 ? d / hz * 1e6 / t : 0) }'
}

echo "| key | mode | system | req/s (median) | CPU µs/req (median) |"
echo "|---|---|---|---:|---:|"
for key in $KEYS; do
    if [[ $key == ecdsa ]]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/$key.key" -out "$WORK/$key.crt" -subj /CN=localhost -days 2 2>/dev/null
    else
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/$key.key" -out "$WORK/$key.crt" -subj /CN=localhost -days 2 2>/dev/null
    fi
    start_nginx "$key"; start_argus "$key"
    wait_ready "$NGINX_PORT"; wait_ready "$ARGUS_PORT"
    NW=$(nginx_worker)
    for mode in $MODES; do
        declare -A R=() C=()
        for round in $(seq 1 "$ROUNDS"); do
            order="nginx argus"; (( round % 2 == 0 )) && order="argus nginx"
            for sys in $order; do
                if [[ $sys == nginx ]]; then set -- $(measure nginx "$NGINX_PORT" "$NW" "$mode"); else set -- $(measure argus "$ARGUS_PORT" "$ARGUS_PID" "$mode"); fi
                R[$sys]+="$1 "; C[$sys]+="$2 "
            done
        done
        nr=$(median "${R[nginx]}"); ar=$(median "${R[argus]}"); nc=$(median "${C[nginx]}"); ac=$(median "${C[argus]}")
        echo "| $key | $mode | nginx | $nr | $nc |"
        echo "| $key | $mode | argus | $ar | $ac |"
        awk -v k="$key" -v m="$mode" -v nr="$nr" -v ar="$ar" -v nc="$nc" -v ac="$ac" \
            'BEGIN { printf "BENCH key=%s mode=%s argus_rps=%s nginx_rps=%s rps_ratio=%.2f argus_cpu_us=%s nginx_cpu_us=%s cpu_ratio=%.2f\n", k, m, ar, nr, ar / nr, ac, nc, ac / nc }' >&2
        unset R C
    done
    kill -TERM -- "-$NGINX_PID" 2>/dev/null || true; kill -TERM -- "-$ARGUS_PID" 2>/dev/null || true; sleep 1
done
