# pinned.sh — sourced by the benchmarks that pit one pinned Argus against one pinned nginx
# (tls-bench.sh, h2-bench.sh): the scratch directory and its cleanup, the nginx backend on
# LOAD_CPU (this shell moves there too), the CPU counter of a process, the median.
# Needs HERE, LOAD_CPU and BACKEND_PORT set, and TOOLS (the commands the benchmark runs).
for tool in $TOOLS; do command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }; done
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/tmp"
taskset -pc "$LOAD_CPU" $$ >/dev/null
sed -e "s|@WORK@|$WORK|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$HERE/conf/backend.nginx.conf.tmpl" > "$WORK/backend.conf"
setsid taskset -c "$LOAD_CPU" nginx -c "$WORK/backend.conf" -e "$WORK/backend.err" >/dev/null 2>&1 & PIDS+=($!)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime of all threads, in clock ticks
HZ=$(getconf CLK_TCK)
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
