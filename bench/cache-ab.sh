#!/usr/bin/env bash
# cache-ab.sh — what a proxy-cache hit costs, in one interleaved wrk run (proxy-bench.sh is the
# harness):
#   argus-off    Argus with no plugin (every request goes upstream)
#   argus-cache  Argus with a global proxy-cache (the backend's text/plain answer is stored on
#                the first request; every later one is a hit and never touches the upstream)
# next to direct and nginx (proxy_pass, no cache). The goal: a hit costs less CPU per request
# (the summary's "CPU µs/req") than nginx's proxy_pass miss.
#
#   bench/cache-ab.sh                      # 5 rounds x 10 s, 50 connections
#   ROUNDS=1 DURATION=3 bench/cache-ab.sh  # quick check
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/argus-ab.sh"
argus_ab argus-off '' argus-cache 'plugins:\n  - name: proxy-cache\n    config: {strategy: memory, cache_ttl: 3600}\n' cache-ab
