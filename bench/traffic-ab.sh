#!/usr/bin/env bash
# traffic-ab.sh — the cost of cors and correlation-id, in one interleaved wrk run (proxy-bench.sh
# is the harness):
#   argus-off  Argus with no plugin
#   argus-cc   Argus with a global cors (origins "*", credentials) and correlation-id
#              (uuid#counter, echoed downstream); every request carries an Origin, so cors adds
#              its headers and correlation-id generates, forwards and echoes an id
# next to direct and nginx for reference. The goal: argus-cc within 2 % of argus-off in req/s.
#
#   bench/traffic-ab.sh                      # 5 rounds x 10 s, 50 connections
#   ROUNDS=1 DURATION=3 bench/traffic-ab.sh  # quick check
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/argus-ab.sh"
export REQ_HEADER=${REQ_HEADER:-"Origin: https://app.example.com"}
argus_ab argus-off '' argus-cc \
    'plugins:\n  - name: cors\n    config: {origins: ["*"], credentials: true}\n  - name: correlation-id\n    config: {echo_downstream: true}\n' \
    traffic-ab
