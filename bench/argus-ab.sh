# argus-ab.sh — sourced by the A/B scripts (access-ab, cache-ab, traffic-ab, ratelimit-ab,
# upstream-ab): builds the release binary, then runs proxy-bench.sh with two Argus configurations
# side by side, next to direct and nginx, in one interleaved wrk run.
#
#   argus_ab NAME_A YAML_A NAME_B YAML_B TAG
#       YAML_* are lines (printf %b escapes) appended to a kong.yml with one service pointing at
#       the harness's backend and one route for "/" (e.g. a plugins: list).
#   argus_ab_commands NAME_A CMD_A NAME_B CMD_B TAG
#       the same with whole commands that write "$BENCH_WORK/kong-$LISTEN_PORT.yml" themselves;
#       $ARGUS_RUN starts Argus on it.
# ROUNDS (5), SYSTEMS, OUT_DIR and the harness's own variables may be set by the caller.

HERE=${HERE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
ROOT=${ROOT:-$(cd "$HERE/.." && pwd)}

(cd "$ROOT" && swift build -c release --product argus --scratch-path .build-release >/dev/null)
export ARGUS_BIN="$ROOT/.build-release/release/argus"

ARGUS_RUN='exec "$ARGUS_BIN" start --config "$BENCH_WORK/kong-$LISTEN_PORT.yml" --proxy-listen "127.0.0.1:$LISTEN_PORT" --admin-listen 127.0.0.1:0 --status-listen 127.0.0.1:0 --workers "$PROXY_WORKERS" --data-dir "$BENCH_WORK/data-$LISTEN_PORT" --log-level warning'
ARGUS_CONFIG='printf "_format_version: \"3.0\"\nservices:\n  - name: backend\n    url: http://%s\n    routes:\n      - name: all\n        paths: [\"/\"]\n%b" "$UPSTREAM" "$EXTRA_YAML" > "$BENCH_WORK/kong-$LISTEN_PORT.yml"'

argus_ab_commands() {
    export EXTRA_NAME=$1 EXTRA_PORT=18090 EXTRA_CMD="$2; $ARGUS_RUN"
    export EXTRA2_NAME=$3 EXTRA2_PORT=18092 EXTRA2_CMD="$4; $ARGUS_RUN"
    export SYSTEMS=${SYSTEMS:-"direct nginx $1 $3"}
    export ROUNDS=${ROUNDS:-5}
    export OUT_DIR=${OUT_DIR:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$5-c${CONNS:-50}}
    "$HERE/proxy-bench.sh"
}

argus_ab() {
    argus_ab_commands "$1" "EXTRA_YAML='$2'; $ARGUS_CONFIG" "$3" "EXTRA_YAML='$4'; $ARGUS_CONFIG" "$5"
}
