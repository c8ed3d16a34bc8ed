#!/usr/bin/env bash
# observe-ab.sh — what each exporter costs, itemised, in one interleaved wrk run (issue 24):
#   nginx             proxy_pass, no access log
#   nginx-jsonlog     the same with a JSON access log (the reference for "observing at nginx's price")
#   argus             no plugins
#   argus-prometheus  prometheus with every flag (status codes, latencies, bandwidth, upstream health, per consumer)
#   argus-filelog     file-log to a file in the scratch directory
#   argus-httplog     http-log in batches of 100 to the harness's backend (it answers any POST with 200)
#   argus-ratelimit   rate-limiting, policy local, a limit never reached
#   argus-observed    all four together (the configuration of the issue's table)
# Each Argus row against `argus` is one exporter's A/B pair; `argus-observed` against
# `nginx-jsonlog` is the target. proxy-bench.sh is the harness (CPU per request of the whole
# process, all threads; medians of ROUNDS rounds, the order rotating).
#
#   bench/observe-ab.sh                    # 3 rounds x 10 s, 50 connections
#   ROUNDS=5 bench/observe-ab.sh
#
# As in logs-ab.sh, WARM_MB of memory is written and freed first, and each Argus runs in a memory
# cgroup of PAGE_CACHE_MB (v1, root only), so that log files are written into recycled page cache
# rather than into guest memory the hypervisor has not backed yet.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

if [[ ${WARM_MB:-6144} -gt 0 ]]; then
    warm=$(mktemp "${TMPDIR:-/tmp}/observe-ab-warm.XXXXXX")
    dd if=/dev/zero of="$warm" bs=1M count="${WARM_MB:-6144}" status=none
    rm -f "$warm"
fi

prometheus='  - name: prometheus\n    config: {status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true, upstream_health_metrics: true, per_consumer: true}\n'
filelog='  - name: file-log\n    config: {path: $BENCH_WORK/access-$LISTEN_PORT.log}\n'
httplog='  - name: http-log\n    config: {http_endpoint: \"http://$UPSTREAM/logs\", queue: {max_batch_size: 100}, spool_max_bytes: 4294967296}\n'
ratelimit='  - name: rate-limiting\n    config: {second: 100000000, policy: local}\n'
config='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n%b" "$UPSTREAM" "$PLUGINS" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'

names=(argus argus-prometheus argus-filelog argus-httplog argus-ratelimit argus-observed)
lists=("" "$prometheus" "$filelog" "$httplog" "$ratelimit" "$prometheus$filelog$httplog$ratelimit")
suffixes=("" 2 3 4 5 6)

cgroup_root=/sys/fs/cgroup/memory
enter_cgroup=""
if [[ ${PAGE_CACHE_MB:-1024} -gt 0 && -w $cgroup_root ]]; then
    for i in "${!names[@]}"; do
        mkdir -p "$cgroup_root/argus-observe-ab-$((18090 + i))"
        echo $(( ${PAGE_CACHE_MB:-1024} << 20 )) > "$cgroup_root/argus-observe-ab-$((18090 + i))/memory.limit_in_bytes"
    done
    enter_cgroup="echo \$\$ > $cgroup_root/argus-observe-ab-\$LISTEN_PORT/cgroup.procs || echo 'observe-ab: could not enter the memory cgroup' >&2; "
elif [[ ${PAGE_CACHE_MB:-1024} -gt 0 ]]; then
    echo "observe-ab: no writable $cgroup_root: page cache not limited" >&2
fi
run=$enter_cgroup'exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'

for i in "${!names[@]}"; do
    n=${suffixes[$i]}
    plugins=""
    [[ -n ${lists[$i]} ]] && plugins="plugins:\\n${lists[$i]}"
    export "EXTRA${n}_NAME=${names[$i]}" "EXTRA${n}_PORT=$((18090 + i))"
    export "EXTRA${n}_CMD=PLUGINS=\"$plugins\"; $config; $run"
done
export SYSTEMS=${SYSTEMS:-"nginx nginx-jsonlog ${names[*]}"}
export ROUNDS=${ROUNDS:-3}
export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-observe-ab-c${CONNS:-50}}
exec "$HERE/proxy-bench.sh"
