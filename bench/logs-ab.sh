#!/usr/bin/env bash
# logs-ab.sh — the cost of the log sinks, in one interleaved wrk run (proxy-bench.sh is the harness):
#   argus-nolog  Argus with no log plugin
#   argus-logs   Argus with http-log (batches of 100, to the harness's nginx backend, which answers
#                any POST with 200) and file-log (to a file in the scratch directory), both global
# or, with DOWN=1, argus-logs sends to a closed port: the endpoint is down for the whole run and
# every record goes to the disk spool (the proxy's p99 should not move); or, with OUTAGE=1,
# argus-logs (endpoint up) against argus-logs-down (endpoint down) in the same run: the p99 with
# the log endpoint down next to the p99 with it up.
#
#   bench/logs-ab.sh                       # 5 rounds x 10 s, 50 connections
#   DOWN=1 bench/logs-ab.sh
#   OUTAGE=1 bench/logs-ab.sh
#
# Memory warm-up (WARM_MB, default 6144; 0 to skip): on a VM, the first write into guest memory
# the host has not backed yet costs about ten times a write into recycled memory (here: 2,000 MB
# with dd took 4.5 s into untouched memory, 0.39 s again after deleting the file). The log files
# and the spool grow by gigabytes during a run, so without a warm-up the sinks are measured
# against the hypervisor's first-touch faults rather than their own cost. A gateway that has run
# for a while writes into recycled page-cache pages, so WARM_MB of memory is written and freed first.
#
# Page cache (PAGE_CACHE_MB, default 1024; 0 to skip): the warm-up alone does not last, since the
# host takes freed guest memory back within seconds (a 1 GB dd ran at 0.22 s right after deleting
# a file, 2.8 s minutes later). Each Argus therefore runs in a memory cgroup (v1,
# /sys/fs/cgroup/memory, root only) limited to PAGE_CACHE_MB: once its log files fill that much
# page cache, the kernel recycles their oldest clean pages, as on a server whose page cache is
# full, instead of faulting in fresh guest memory for every page of log written. The limit counts
# Argus's own memory too (≈ 80 MB here) and is enforced by reclaim in the writing thread, which is
# charged to Argus like the rest of its kernel time. cgroup v2 hosts run without the limit (a
# warning says so), so compare runs from the same host only.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)

if [[ ${WARM_MB:-6144} -gt 0 ]]; then
    warm=$(mktemp "${TMPDIR:-/tmp}/logs-ab-warm.XXXXXX")
    dd if=/dev/zero of="$warm" bs=1M count="${WARM_MB:-6144}" status=none
    rm -f "$warm"
fi
export ARGUS_BIN="$ROOT/.build-release/release/argus"

dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [[ ${DOWN:-0} == 1 ]]; then
    ENDPOINT="http://127.0.0.1:$dead/logs"; NAME=argus-logs-down
else
    ENDPOINT='http://$UPSTREAM/logs'; NAME=argus-logs
fi
plugins() {  # plugins ENDPOINT: the http-log + file-log plugin lines (printf %b escapes)
    echo "PLUGINS=\"plugins:\\n  - name: http-log\\n    config: {http_endpoint: \\\"$1\\\", queue: {max_batch_size: 100}, spool_max_bytes: 4294967296}\\n  - name: file-log\\n    config: {path: \$BENCH_WORK/access-\$LISTEN_PORT.log}\\n\""
}
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n%b" "$UPSTREAM" "$PLUGINS" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'
cgroup_root=/sys/fs/cgroup/memory
if [[ ${PAGE_CACHE_MB:-1024} -gt 0 && -w $cgroup_root ]]; then
    for port in 18090 18092; do
        mkdir -p "$cgroup_root/argus-logs-ab-$port"
        echo $(( ${PAGE_CACHE_MB:-1024} << 20 )) > "$cgroup_root/argus-logs-ab-$port/memory.limit_in_bytes"
    done
    enter_cgroup="echo \$\$ > $cgroup_root/argus-logs-ab-\$LISTEN_PORT/cgroup.procs || echo 'logs-ab: could not enter the memory cgroup' >&2; "
else
    [[ ${PAGE_CACHE_MB:-1024} -gt 0 ]] && echo "logs-ab: no writable $cgroup_root: page cache not limited" >&2
    enter_cgroup=""
fi
run=$enter_cgroup'exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
if [[ ${OUTAGE:-0} == 1 ]]; then
    export EXTRA_NAME=argus-logs EXTRA_PORT=18090
    export EXTRA_CMD="$(plugins 'http://$UPSTREAM/logs'); $config; $run"
    NAME=argus-logs-down ENDPOINT="http://127.0.0.1:$dead/logs"
else
    export EXTRA_NAME=argus-nolog EXTRA_PORT=18090
    export EXTRA_CMD="PLUGINS=''; $config; $run"
fi
export EXTRA2_NAME=$NAME EXTRA2_PORT=18092
export EXTRA2_CMD="$(plugins "$ENDPOINT"); $config; $run"
export SYSTEMS=${SYSTEMS:-"$EXTRA_NAME $NAME"}
export ROUNDS=${ROUNDS:-5}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$NAME-c${CONNS:-50}}
exec "$HERE/proxy-bench.sh"
