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
source "$HERE/argus-ab.sh"
AUTH='consumers:\n  - username: bench\n    keyauth_credentials: [{key: bench-key-0123456789}]\n    acls: [{group: clients}]\nplugins:\n  - name: key-auth\n  - name: acl\n    config: {allow: [clients]}\n'
if [[ ${KEY_IN:-header} == query ]]; then
    export REQ_PATH=${REQ_PATH:-"/?apikey=bench-key-0123456789"}
else
    export REQ_HEADER=${REQ_HEADER:-"apikey: bench-key-0123456789"}
fi
argus_ab argus-off '' argus-auth "$AUTH" access-ab
