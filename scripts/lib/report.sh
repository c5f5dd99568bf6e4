# shellcheck shell=bash
# Section headers, step timing and the closing summary of scripts/test.
#
# Sourced, not run. Written for bash 3.2 as well (macOS ships it): no associative arrays, no
# `mapfile`, and empty arrays are expanded with `${array[@]+"${array[@]}"}` so `set -u` holds.

summary_rows=()
current_step=""
current_step_started_seconds=0
script_started_seconds=$SECONDS

# Stops the script with a message that names what is wrong and what to do about it.
die() {
    printf '\nscripts/test: error: %s\n' "$*" >&2
    exit 1
}

# Seconds as `42s` or `3m 07s`.
format_duration() {
    local seconds=$1
    if ((seconds >= 60)); then
        printf '%dm %02ds' $((seconds / 60)) $((seconds % 60))
    else
        printf '%ds' "$seconds"
    fi
}

# Adds one line to the closing summary.
record_row() {
    local name=$1 outcome=$2 seconds=$3
    local duration
    duration=$(format_duration "$seconds")
    summary_rows+=("$(printf '  %-34s %-7s %8s' "$name" "$outcome" "$duration")")
}

# run_step NAME COMMAND [ARGUMENT...]: runs one step under a header and times it. A failing
# command stops the whole script through `set -e`; the EXIT trap then names the step. The command
# must not be run inside `if`/`||`: bash ignores `set -e` in that context, even inside functions.
run_step() {
    current_step=$1
    shift
    current_step_started_seconds=$SECONDS
    printf '\n==> %s\n' "$current_step"
    printf '    $ %s\n' "$*"
    "$@"
    local elapsed=$((SECONDS - current_step_started_seconds))
    record_row "$current_step" ok "$elapsed"
    printf '<== %s: ok in %s\n' "$current_step" "$(format_duration "$elapsed")"
    current_step=""
}

print_summary() {
    printf '\n==> summary\n'
    local row
    for row in ${summary_rows[@]+"${summary_rows[@]}"}; do
        printf '%s\n' "$row"
    done
}

# EXIT trap: on failure, says which step failed and how long everything took.
on_exit() {
    local status=$?
    if ((status != 0)); then
        if [[ -n "$current_step" ]]; then
            record_row "$current_step" FAILED $((SECONDS - current_step_started_seconds))
        fi
        print_summary
        printf 'scripts/test: FAILED%s (exit status %d) after %s\n' \
            "${current_step:+ in step \"$current_step\"}" "$status" \
            "$(format_duration $((SECONDS - script_started_seconds)))"
    fi
}
