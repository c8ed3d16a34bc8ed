#!/usr/bin/env bash
# cli-smoke.sh — end-to-end check of the real `argus` binary: config validation, proxying,
# the status API, SIGHUP reload (valid and invalid), configuration from the environment,
# startup failures and graceful shutdown on SIGTERM.
#
#   scripts/cli-smoke.sh [path/to/argus]        (default: .build/debug/argus)
#
# Everything runs on 127.0.0.1 on free ports, in a temp dir removed on exit. Prints one
# `ok - NAME` / `not ok - NAME` line per check, then `N passed, M failed`; exits 1 if M > 0.
# Needs: python3, curl.
set -euo pipefail

ARGUS=${1:-.build/debug/argus}
if [[ ! -x $ARGUS ]]; then
    echo "argus binary not found or not executable: $ARGUS" >&2
    exit 2
fi
ARGUS=$(cd "$(dirname "$ARGUS")" && pwd)/$(basename "$ARGUS")
unset "${!ARGUS_@}"   # only the environment this script sets

WORK=$(mktemp -d "${TMPDIR:-/tmp}/argus-smoke.XXXXXX")
PIDS=()
PASSED=0
FAILED=0

cleanup() {
    local pid i
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- helpers ----------------------------------------------------------------------------------

# check NAME COMMAND...: runs COMMAND (errexit is off inside it) and records ok / not ok.
# A failing command may set DETAIL to explain itself.
check() {
    local name=$1; shift
    DETAIL=""
    if "$@"; then
        PASSED=$((PASSED + 1)); echo "ok - $name"
    else
        FAILED=$((FAILED + 1)); echo "not ok - $name"
        [[ -z $DETAIL ]] || printf '%s\n' "$DETAIL" | sed 's/^/#   /'
    fi
}

# retry TRIES COMMAND...: runs COMMAND every 0.1 s until it succeeds, at most TRIES times.
retry() {
    local tries=$1 i; shift
    for ((i = 0; i < tries; i++)); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    return 1
}

# free_ports N: N distinct free TCP ports on 127.0.0.1.
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()' "$1"
}

# GET URL: prints the response headers and body (curl -i); never waits more than 5 s.
GET() { curl -sS -i --max-time 5 "$1" 2>&1 || true; }
status_of() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true; }
body_of() { curl -sS --max-time 5 "$1" 2>/dev/null || true; }
port_accepts() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# spawn NAME COMMAND...: runs COMMAND in the background, output to $WORK/NAME.log; sets SPAWNED.
spawn() {
    local name=$1; shift
    : >"$WORK/$name.log"   # exists before the caller greps it
    "$@" >>"$WORK/$name.log" 2>&1 &
    SPAWNED=$!
    PIDS+=("$SPAWNED")
}

# start_argus NAME ARGS...: starts `argus start ARGS`; waits (bounded) until all listeners are
# up or the process has exited. The PID is in SPAWNED, the log in $WORK/NAME.log.
start_argus() {
    local name=$1; shift
    spawn "$name" "$ARGUS" start "$@"
    up_or_dead() { grep -q 'listener=status.*listening' "$WORK/$name.log" || ! kill -0 "$SPAWNED" 2>/dev/null; }
    retry 100 up_or_dead || true
}

# write_config FILE ROUTE_PATH UPSTREAM_PORT [EXTRA_SERVICE_LINES]: a one-service kong.yml,
# written to a temp file and renamed so that a reload never reads half a file.
write_config() {
    cat >"$1.tmp" <<EOF
_format_version: "3.0"
services:
  - name: backend
    url: http://127.0.0.1:$3
${4:-}
    routes:
      - name: main
        paths: ["$2"]
EOF
    mv "$1.tmp" "$1"
}

has_line() { grep -qF -- "$2" <<<"$1" || { DETAIL+="missing: $2"$'\n'; return 1; }; }

# --- setup: backend ---------------------------------------------------------------------------

read -r BACKEND PROXY ADMIN STATUS PROXY2 ADMIN2 STATUS2 SLOW PROXY3 ADMIN3 STATUS3 SPARE <<<"$(free_ports 12)"
mkdir -p "$WORK/www"
CONTENT="argus smoke $RANDOM$RANDOM"
echo "$CONTENT" >"$WORK/www/hello.txt"
spawn backend python3 -m http.server "$BACKEND" --bind 127.0.0.1 --directory "$WORK/www"
retry 100 curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$BACKEND/hello.txt" || {
    echo "backend did not start"; cat "$WORK/backend.log"; exit 2
}
CONFIG=$WORK/kong.yml
write_config "$CONFIG" / "$BACKEND"

# --- config validate --------------------------------------------------------------------------

validate_valid() {
    local out rc=0
    out=$("$ARGUS" config validate "$CONFIG" 2>&1) || rc=$?
    DETAIL="exit $rc: $out"
    [[ $rc -eq 0 && $(wc -l <<<"$out") -eq 1 && $out == *"1 service"* ]]
}

validate_invalid() {
    local bad=$WORK/bad.yml err rc=0
    write_config "$bad" foo "$BACKEND" "    unknown_thing: 1
    plugins:
      - name: x"
    err=$("$ARGUS" config validate "$bad" 2>&1 >/dev/null) || rc=$?
    DETAIL="exit $rc"$'\n'"$err"$'\n'
    [[ $rc -eq 1 ]] || return 1
    has_line "$err" "$bad: services[0].routes[0].paths[0]: should start with: /" &&
        has_line "$err" "$bad: services[0].unknown_thing: unknown field" &&
        has_line "$err" "$bad: services[0].plugins[0].name: plugin 'x' not enabled; add it to the 'plugins' configuration property"
}

check "config validate: valid file exits 0 with a one-line summary" validate_valid
check "config validate: invalid file exits 1 listing every error with file and path" validate_invalid

# --- start, proxy, status ---------------------------------------------------------------------

start_argus main --config "$CONFIG" --proxy-listen "127.0.0.1:$PROXY" --admin-listen "127.0.0.1:$ADMIN" \
    --status-listen "127.0.0.1:$STATUS" --data-dir "$WORK/data1" --workers 2 --drain-timeout 2
MAIN=$SPAWNED

logs_listeners() {
    local log; log=$(cat "$WORK/main.log"); DETAIL=$log
    grep -q "127.0.0.1:$PROXY listener=proxy.*listening" <<<"$log" &&
        grep -q "127.0.0.1:$STATUS listener=status.*listening" <<<"$log"
}

proxies_file() {
    local out; out=$(GET "http://127.0.0.1:$PROXY/hello.txt" | tr -d '\r'); DETAIL=$out
    grep -q '^HTTP/1.1 200' <<<"$out" && grep -qxF "$CONTENT" <<<"$out" &&
        grep -qi '^Via: ' <<<"$out" && grep -qi '^X-Kong-Request-Id: [0-9a-f]' <<<"$out" &&
        grep -qi '^X-Kong-Upstream-Latency: [0-9]' <<<"$out"
}

# no_route URL: 404 with Kong's JSON body.
no_route() {
    local out; out=$(GET "$1" | tr -d '\r'); DETAIL=$out
    grep -q '^HTTP/1.1 404' <<<"$out" && grep -qi '^Content-Type: application/json' <<<"$out" &&
        grep -qF '"message":"no Route matched with those values"' <<<"$out"
}

status_json() {
    local out; out=$(body_of "http://127.0.0.1:$STATUS/status"); DETAIL=$out
    python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["server"]["total_requests"] >= 1' "$out" 2>/dev/null
}

check "start: logs the address of each listener" logs_listeners
check "proxy: serves the backend's file with Via, X-Kong-Request-Id, X-Kong-Upstream-Latency" proxies_file
check "status: GET /status returns JSON with total_requests" status_json

# --- SIGHUP reload ----------------------------------------------------------------------------

old_path_gone() { [[ $(status_of "http://127.0.0.1:$PROXY/hello.txt") == 404 ]]; }
v2_serves() { [[ $(body_of "http://127.0.0.1:$PROXY/v2/hello.txt") == "$CONTENT" ]]; }

reload_valid() {
    write_config "$CONFIG" /v2 "$BACKEND"
    kill -HUP "$MAIN"
    retry 50 old_path_gone || { DETAIL=$(tail -5 "$WORK/main.log"); return 1; }
    v2_serves && grep -q 'configuration reloaded' "$WORK/main.log"
}

reload_invalid() {
    write_config "$CONFIG" v3-without-slash "$BACKEND"
    kill -HUP "$MAIN"
    retry 50 grep -q 'configuration rejected' "$WORK/main.log" || { DETAIL=$(tail -5 "$WORK/main.log"); return 1; }
    DETAIL=$(grep 'configuration rejected' "$WORK/main.log")
    grep -q 'paths\[0\]' <<<"$DETAIL" && v2_serves && kill -0 "$MAIN"
}

check "reload: SIGHUP applies the new route (/ -> /v2)" reload_valid
# Only /v2 is routed now, so any other path is unknown.
check "proxy: an unknown path gets 404 'no Route matched with those values'" no_route "http://127.0.0.1:$PROXY/nothing/here"
check "reload: an invalid config is rejected and logged, /v2 keeps serving" reload_invalid

# --- configuration from the environment -------------------------------------------------------

env_instance() {
    local cfg=$WORK/env.yml
    write_config "$cfg" / "$BACKEND"
    ARGUS_CONFIG=$cfg ARGUS_PROXY_LISTEN=127.0.0.1:$PROXY2 ARGUS_ADMIN_LISTEN=127.0.0.1:$ADMIN2 \
        ARGUS_STATUS_LISTEN=127.0.0.1:$STATUS2 ARGUS_DATA_DIR=$WORK/data2 ARGUS_WORKERS=1 \
        ARGUS_LOG_LEVEL=debug ARGUS_DRAIN_TIMEOUT=1 start_argus env
    DETAIL=$(cat "$WORK/env.log")
    [[ $(body_of "http://127.0.0.1:$PROXY2/hello.txt") == "$CONTENT" ]] &&
        [[ $(status_of "http://127.0.0.1:$STATUS2/status/ready") == 200 ]] &&
        [[ $(status_of "http://127.0.0.1:$ADMIN2/") == 200 ]] &&
        [[ -s $WORK/data2/node_id ]]
}

# exited_ok PID: waits (at most 10 s, then kills it) for PID to exit; true if its status is 0.
exited_ok() {
    local pid=$1 rc=0
    retry 100 eval '! kill -0 "$pid" 2>/dev/null' || { DETAIL+="still running after 10 s"$'\n'; kill -KILL "$pid"; }
    wait "$pid" || rc=$?
    DETAIL+="exit status $rc"$'\n'
    [[ $rc -eq 0 ]]
}

sigint_exits() { kill -INT "$1" && exited_ok "$1"; }

check "env: ARGUS_* variables alone configure a serving instance" env_instance
check "shutdown: SIGINT stops an idle instance with status 0" sigint_exits "$SPAWNED"

# --- startup failures -------------------------------------------------------------------------

port_in_use() {
    local err rc=0 start=$SECONDS
    err=$(timeout 10 "$ARGUS" start --proxy-listen "127.0.0.1:$PROXY" --admin-listen "127.0.0.1:$SPARE" \
        --status-listen 127.0.0.1:0 --data-dir "$WORK/data3" --log-level warning 2>&1 >/dev/null) || rc=$?
    DETAIL="exit $rc after $((SECONDS - start)) s: $err"
    [[ $rc -ne 0 && $rc -ne 124 && $((SECONDS - start)) -le 5 ]] &&
        [[ $(wc -l <<<"$err") -eq 1 && $err == "argus: "*"127.0.0.1:$PROXY"* ]]
}

missing_config() {
    local missing=$WORK/does-not-exist.yml err rc=0
    err=$(timeout 10 "$ARGUS" start --config "$missing" --proxy-listen "127.0.0.1:$SPARE" \
        --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --data-dir "$WORK/data3" 2>&1 >/dev/null) || rc=$?
    DETAIL="exit $rc: $err"
    [[ $rc -ne 0 && $rc -ne 124 && $err == *"$missing"* ]]
}

check "startup: a port already in use fails fast with a one-line reason naming it" port_in_use
check "startup: a missing config file fails with a reason naming the file" missing_config

# --- graceful shutdown ------------------------------------------------------------------------

# A backend whose /slow handler marks the request as arrived, then sleeps 1.5 s before answering.
spawn slow python3 -c '
import http.server, sys, time
class Slow(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/slow":
            open(sys.argv[2], "w").close()
            time.sleep(1.5)
        body = b"slow done\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Slow).serve_forever()
' "$SLOW" "$WORK/slow-arrived"
retry 100 curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$SLOW/ping" || { echo "slow backend did not start"; exit 2; }

graceful_shutdown() {
    local cfg=$WORK/slow.yml curl_pid pid exited=0 accepted_late=0 out
    write_config "$cfg" / "$SLOW"
    start_argus drain --config "$cfg" --proxy-listen "127.0.0.1:$PROXY3" --admin-listen "127.0.0.1:$ADMIN3" \
        --status-listen "127.0.0.1:$STATUS3" --data-dir "$WORK/data4" --workers 1 --drain-timeout 10
    pid=$SPAWNED
    curl -sS --max-time 10 -o "$WORK/slow.body" -w '%{http_code}' "http://127.0.0.1:$PROXY3/slow" >"$WORK/slow.code" 2>&1 &
    curl_pid=$!
    PIDS+=("$curl_pid")
    retry 50 test -e "$WORK/slow-arrived" || { DETAIL="the request never reached the backend"; return 1; }
    kill -TERM "$pid"
    # The backend is still sleeping: the listener must be gone while the request is in flight.
    retry 10 eval '! port_accepts "$PROXY3"' || { accepted_late=1; DETAIL+="a new connection was accepted after SIGTERM"$'\n'; }
    retry 100 eval '! kill -0 "$curl_pid" 2>/dev/null' || DETAIL+="curl did not finish"$'\n'
    exited_ok "$pid" || exited=1
    out="$(cat "$WORK/slow.code") $(cat "$WORK/slow.body" 2>/dev/null)"
    DETAIL+="in-flight request: $out"$'\n'$(tail -3 "$WORK/drain.log")
    [[ $exited -eq 0 && $accepted_late -eq 0 && $out == "200 slow done" ]]
}

check "shutdown: SIGTERM refuses new connections, finishes the in-flight request, exits 0" graceful_shutdown

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
