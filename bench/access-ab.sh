#!/usr/bin/env bash
# access-ab.sh — the cost of authentication and access control, in one interleaved wrk run
# (proxy-bench.sh is the harness):
#   argus-off   Argus with no plugin
#   argus-auth  Argus with a global key-auth and an acl allowing the consumer's group (every
#               request carries the key in an `apikey` header: looked up, checked, X-Consumer-*
#               sent upstream; KEY_IN=query puts it in the query string instead)
# next to direct and nginx for reference. The goal: argus-auth within 3 % of argus-off in req/s.
#
#   bench/access-ab.sh                      # 5 rounds x 10 s, 50 connections
#   ROUNDS=1 DURATION=3 bench/access-ab.sh  # quick check
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

OFF_PORT=18090 ON_PORT=18092
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n%b" "$UPSTREAM" "$EXTRA_YAML" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
run='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
AUTH='consumers:\n  - username: bench\n    keyauth_credentials: [{key: bench-key-0123456789}]\n    acls: [{group: clients}]\nplugins:\n  - name: key-auth\n  - name: acl\n    config: {allow: [clients]}\n'
export EXTRA_NAME=argus-off EXTRA_PORT=$OFF_PORT
export EXTRA_CMD="EXTRA_YAML=''; $config; $run"
export EXTRA2_NAME=argus-auth EXTRA2_PORT=$ON_PORT
export EXTRA2_CMD="EXTRA_YAML='$AUTH'; $config; $run"
if [[ ${KEY_IN:-header} == query ]]; then
    export REQ_PATH=${REQ_PATH:-"/?apikey=bench-key-0123456789"}
else
    export REQ_HEADER=${REQ_HEADER:-"apikey: bench-key-0123456789"}
fi
export SYSTEMS=${SYSTEMS:-"direct nginx argus-off argus-auth"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-access-ab-c${CONNS:-50}}
"$HERE/proxy-bench.sh"
