# shellcheck shell=bash
# Starting, checking and stopping the registries that scripts/compare-distribution and
# scripts/bench-peers measure side by side: `zot serve` (this repository's release build) and
# CNCF distribution (Debian's `docker-registry`, run directly with its own config, no systemd),
# each on 127.0.0.1 with its own storage, stopped by process id. Plus the small number helpers
# both scripts' tables use.
#
# Sourced, not run; the script defines `die`. The functions read and set these globals:
#   scratch_dir        a private temporary directory (configs, storage, logs go there)
#   zot_binary         the zot executable
#   ZOT_PORT, DISTRIBUTION_PORT   the loopback ports
#   zot_pid, distribution_pid     set by start_zot/start_distribution, "" when not running
# shellcheck disable=SC2154 # those globals are assigned by the sourcing script

# require_whole_number NAME VALUE MINIMUM: stops unless VALUE is a decimal number >= MINIMUM.
require_whole_number() {
    local name=$1 value=$2 minimum=$3
    case $value in
        '' | *[!0-9]*) die "$name must be a whole number, not '$value'." ;;
    esac
    ((10#$value >= minimum)) || die "$name must be at least $minimum, not $value."
}

# stop_server PID: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_server() {
    local pid=$1 attempt
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((attempt = 0; attempt < 100; attempt++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# stop_registries: stops whichever of zot and distribution is running (for EXIT traps too).
stop_registries() {
    stop_server "${zot_pid:-}"
    zot_pid=""
    stop_server "${distribution_pid:-}"
    distribution_pid=""
}

# fail_server NAME LOG MESSAGE: stops the script with the server's last log lines.
fail_server() {
    local name=$1 log=$2 message=$3
    printf '%s log (last 20 lines):\n' "$name" >&2
    tail -n 20 "$log" >&2 || true
    die "$name: $message"
}

# wait_ready NAME PID PORT LOG: waits up to 30 s for `GET /v2/` to answer 200.
wait_ready() {
    local name=$1 pid=$2 port=$3 log=$4 attempt
    for ((attempt = 0; attempt < 300; attempt++)); do
        kill -0 "$pid" 2>/dev/null || fail_server "$name" "$log" "exited while starting."
        if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/v2/" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    fail_server "$name" "$log" "GET /v2/ did not answer 200 within 30 s."
}

# require_port_free PORT: something already answering there would be measured instead.
require_port_free() {
    local port=$1
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null; then
        die "port $port already answers HTTP; choose another with ZOT_PORT/DISTRIBUTION_PORT."
    fi
}

# start_zot THREADS [PREFIX...]: zot with runtime.threads THREADS (`default` for its default, one
# per core), run under PREFIX (e.g. `taskset -c 0`), storage in $scratch_dir/zot-storage.
start_zot() {
    local threads=$1 runtime=""
    shift
    if [[ "$threads" != default ]]; then
        runtime=$(printf ',\n    "runtime": { "threads": %d }' "$threads")
    fi
    mkdir -p "$scratch_dir/zot-storage"
    cat >"$scratch_dir/zot-config.json" <<EOF
{
    "distSpecVersion": "1.1.1",
    "storage": { "rootDirectory": "$scratch_dir/zot-storage" },
    "http": { "address": "127.0.0.1", "port": "$ZOT_PORT" },
    "log": { "level": "warn" }$runtime
}
EOF
    require_port_free "$ZOT_PORT"
    "$@" "$zot_binary" serve "$scratch_dir/zot-config.json" >>"$scratch_dir/zot.log" 2>&1 &
    zot_pid=$!
    wait_ready zot "$zot_pid" "$ZOT_PORT" "$scratch_dir/zot.log"
}

# start_distribution [PREFIX...]: distribution with filesystem storage in
# $scratch_dir/distribution-storage, deletes enabled, no auth, the in-memory blob descriptor
# cache of its sample config, logging errors only and no access log (zot at warn logs nothing
# per request either).
start_distribution() {
    mkdir -p "$scratch_dir/distribution-storage"
    cat >"$scratch_dir/distribution-config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $scratch_dir/distribution-storage
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$DISTRIBUTION_PORT
EOF
    require_port_free "$DISTRIBUTION_PORT"
    "$@" docker-registry serve "$scratch_dir/distribution-config.yml" \
        >>"$scratch_dir/distribution.log" 2>&1 &
    distribution_pid=$!
    wait_ready distribution "$distribution_pid" "$DISTRIBUTION_PORT" \
        "$scratch_dir/distribution.log"
}

# median: the median of the numbers on stdin, one a line.
median() {
    sort -g | awk '
        { values[NR] = $1 }
        END {
            if (NR == 0) exit 1
            if (NR % 2) print values[(NR + 1) / 2]
            else print (values[NR / 2] + values[NR / 2 + 1]) / 2
        }'
}

# ratio A B: A/B to two decimals, or "-" when B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}
