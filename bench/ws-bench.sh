#!/usr/bin/env bash
# ws-bench.sh — WebSocket echo through Argus next to nginx, interleaved.
#
# A python3-websockets echo server (the backend) and a python3-websockets client (CONNS connections,
# each sending a SIZE-byte message and waiting for its echo, for DURATION seconds) on LOAD_CPU;
# nginx (proxy_pass with Upgrade/Connection: upgrade, 1 worker, no access log) and Argus (1 worker)
# pinned to PROXY_CPU. The Python client is the bottleneck for both proxies, so messages per second
# are the client's ceiling more than the proxy's: the figure that compares the proxies is their CPU
# µs per message (all threads, /proc/PID/stat). Prints both per system and the Argus/nginx ratios.
#
# Usage: ARGUS=.build-release/release/argus ROUNDS=3 DURATION=8 CONNS=20 SIZE=128 bench/ws-bench.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ARGUS=$(realpath "${ARGUS:-$ROOT/.build-release/release/argus}")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-20}
SIZE=${SIZE:-128}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
BACKEND_PORT=${BACKEND_PORT:-18180}
NGINX_PORT=${NGINX_PORT:-18181}
ARGUS_PORT=${ARGUS_PORT:-18182}
WS_BACKEND_PORT=${WS_BACKEND_PORT:-18183}
TOOLS="nginx taskset curl python3"
source "$HERE/lib/pinned.sh"
setsid taskset -c "$LOAD_CPU" /usr/bin/python3 "$HERE/ws/echo.py" "$WS_BACKEND_PORT" >/dev/null 2>&1 & PIDS+=($!)

cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp/b; proxy_temp_path $WORK/tmp/p; fastcgi_temp_path $WORK/tmp/f;
    uwsgi_temp_path $WORK/tmp/u; scgi_temp_path $WORK/tmp/s;
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        location / {
            proxy_pass http://127.0.0.1:$WS_BACKEND_PORT;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 60s;
        }
    }
}
CONF
setsid taskset -c "$PROXY_CPU" nginx -c "$WORK/nginx.conf" >/dev/null 2>&1 & NGINX_PID=$!; PIDS+=($NGINX_PID)
cat > "$WORK/kong.yml" <<CONF
_format_version: "3.0"
services:
  - name: ws
    url: http://127.0.0.1:$WS_BACKEND_PORT
    routes: [{name: all, paths: ["/"]}]
CONF
setsid taskset -c "$PROXY_CPU" "$ARGUS" start --config "$WORK/kong.yml" --proxy-listen "127.0.0.1:$ARGUS_PORT" \
    --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers 1 --data-dir "$WORK/argus-data" --log-level warning \
    >"$WORK/argus.out" 2>&1 & ARGUS_PID=$!; PIDS+=($ARGUS_PID)
for port in "$NGINX_PORT" "$ARGUS_PORT"; do
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done
sleep 0.5
NW=$(pgrep -P "$NGINX_PID" | head -1)

measure() {  # measure PORT PID -> "msgs_per_s cpu_us_per_msg"
    local before after n
    taskset -c "$LOAD_CPU" /usr/bin/python3 "$HERE/ws/client.py" "ws://127.0.0.1:$1/" "$CONNS" 2 "$SIZE" >/dev/null   # warm-up
    before=$(cpu_ticks "$2")
    n=$(taskset -c "$LOAD_CPU" /usr/bin/python3 "$HERE/ws/client.py" "ws://127.0.0.1:$1/" "$CONNS" "$DURATION" "$SIZE")
    after=$(cpu_ticks "$2")
    awk -v n="$n" -v s="$DURATION" -v d=$((after - before)) -v hz="$HZ" 'BEGIN { printf "%.0f %.2f\n", n / s, (n > 0 ? d / hz * 1e6 / n : 0) }'
}

declare -A R=() C=()
for round in $(seq 1 "$ROUNDS"); do
    order="nginx argus"; (( round % 2 == 0 )) && order="argus nginx"
    for sys in $order; do
        if [[ $sys == nginx ]]; then set -- $(measure "$NGINX_PORT" "$NW"); else set -- $(measure "$ARGUS_PORT" "$ARGUS_PID"); fi
        R[$sys]+="$1 "; C[$sys]+="$2 "
    done
done
nr=$(median "${R[nginx]}"); ar=$(median "${R[argus]}"); nc=$(median "${C[nginx]}"); ac=$(median "${C[argus]}")
echo "| system | messages/s (median) | CPU µs/message (median) |"
echo "|---|---:|---:|"
echo "| nginx | $nr | $nc |"
echo "| argus | $ar | $ac |"
awk -v nr="$nr" -v ar="$ar" -v nc="$nc" -v ac="$ac" \
    'BEGIN { printf "BENCH websocket argus_msgs=%s nginx_msgs=%s msgs_ratio=%.2f argus_cpu_us=%s nginx_cpu_us=%s cpu_ratio=%.2f\n", ar, nr, ar / nr, ac, nc, ac / nc }' >&2
