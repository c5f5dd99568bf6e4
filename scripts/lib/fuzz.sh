# shellcheck shell=bash
# Bounded fuzz runs of every cargo-fuzz target, on the stable toolchain.
#
# Why `--sanitizer none`: cargo-fuzz defaults to AddressSanitizer, which needs the nightly-only
# `-Zsanitizer` flag. Without a sanitizer every flag cargo-fuzz passes to rustc is stable
# (`-Cpasses=sancov-module`, `-Cllvm-args=-sanitizer-coverage-...`, `--cfg fuzzing`,
# `-Cdebug-assertions`), so the build needs neither nightly nor RUSTC_BOOTSTRAP. What we give up
# is ASan's detection of memory errors in unsafe code (the parser's unsafe is confined to one
# cursor module; live_server also runs the server's system-call wrappers); panics, overflow
# checks and debug assertions are still caught, because cargo-fuzz builds optimized with debug
# assertions on unless told `-O`.
#
# Sourced, not run; needs report.sh. Expects the current directory to be the repository root.

fuzz_sanitizer_flags=(--sanitizer none)

# libFuzzer options for every bounded run: stop after FUZZ_SECONDS, treat one input taking
# longer than 10 s as a hang, and an RSS above 2 GiB as a leak or blow-up.
fuzz_libfuzzer_options() {
    fuzz_options=("-max_total_time=$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048)
}

# fuzz_dictionary_options TARGET: sets fuzz_dictionary to libFuzzer's -dict option for TARGET's
# dictionary of tokens, fuzz/dictionaries/TARGET.dict, when it has one (live_server does: HTTP
# tokens, OCI paths and media types, the digests it pushes), else to nothing.
fuzz_dictionary_options() {
    local target=$1
    fuzz_dictionary=()
    if [[ -f "fuzz/dictionaries/$target.dict" ]]; then
        fuzz_dictionary=("-dict=$PWD/fuzz/dictionaries/$target.dict")
    fi
}

# Builds every target once, so the runs below start fuzzing at once.
fuzz_build_all() {
    cargo fuzz build "${fuzz_sanitizer_flags[@]}"
}

# Fills the working corpus of TARGET from its committed seeds (fuzz/seeds/TARGET) when present.
# The working corpus (fuzz/corpus, gitignored) keeps what earlier runs found.
fuzz_prepare_corpus() {
    local target=$1 corpus_dir=$2
    mkdir -p "$corpus_dir"
    if [[ -d "fuzz/seeds/$target" ]]; then
        cp -R "fuzz/seeds/$target/." "$corpus_dir/"
    fi
}

# fuzz_run_one TARGET: fuzzes TARGET for FUZZ_SECONDS and sets fuzz_target_failed to 1 when
# libFuzzer found a crash, panic, timeout or RSS blow-up, printing the artifacts it wrote. Any
# other failure (no corpus directory, no temporary file) stops the script through `set -e`, so
# call it plainly, never inside `if` or `||`.
fuzz_run_one() {
    local target=$1
    local corpus_dir="$PWD/fuzz/corpus/$target"
    local artifact_dir="$PWD/fuzz/artifacts/$target"
    local marker found
    fuzz_target_failed=0
    fuzz_prepare_corpus "$target" "$corpus_dir"
    mkdir -p "$artifact_dir"
    marker=$(mktemp)
    fuzz_libfuzzer_options
    fuzz_dictionary_options "$target"
    # `cargo fuzz run` rebuilds nothing here (fuzz_build_all used the same flags) and tells
    # libFuzzer to write artifacts into fuzz/artifacts/TARGET/.
    # libFuzzer prints a line per new coverage point, tens of thousands per run: keep them in a
    # log, print its final statistics, and the log's end when the target failed.
    local log="$artifact_dir/last-run.log"
    if cargo fuzz run "${fuzz_sanitizer_flags[@]}" "$target" "$corpus_dir" -- \
        "${fuzz_options[@]}" "${fuzz_dictionary[@]}" -print_final_stats=1 >"$log" 2>&1
    then
        grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" |
            sed 's/^/    /' || true
        grep -E '^#[0-9]+' "$log" | tail -n 1 | sed 's/^/    last: /' || true
    else
        fuzz_target_failed=1
        printf '\nlast 60 lines of %s:\n' "$log" >&2
        tail -n 60 "$log" >&2
        found=$(find "$artifact_dir" -type f -newer "$marker" -print)
        printf '\nfuzz target %s FAILED. Artifacts written by this run:\n' "$target" >&2
        if [[ -n "$found" ]]; then
            printf '%s\n' "$found" | sed 's/^/    /' >&2
        else
            printf '    (none newer than the start of the run: look in %s)\n' "$artifact_dir" >&2
        fi
        printf 'Reproduce with: cargo fuzz run %s %s <artifact>\n' \
            "${fuzz_sanitizer_flags[*]}" "$target" >&2
    fi
    rm -f "$marker"
}

# Runs every [[bin]] target of fuzz/Cargo.toml in turn, even after one fails, so one run reports
# every failing target; returns non-zero when any failed.
fuzz_run_all() {
    local listing target targets=() failed=() started
    listing=$(cargo fuzz list)
    for target in $listing; do
        targets+=("$target")
    done
    ((${#targets[@]} > 0)) || die "'cargo fuzz list' found no fuzz targets in fuzz/Cargo.toml."
    for target in "${targets[@]}"; do
        printf '\n--- fuzz %s for %ss\n' "$target" "$FUZZ_SECONDS"
        started=$SECONDS
        fuzz_run_one "$target"
        if ((fuzz_target_failed)); then
            record_row "fuzz $target" FAILED $((SECONDS - started))
            failed+=("$target")
        else
            record_row "fuzz $target" ok $((SECONDS - started))
        fi
    done
    if ((${#failed[@]} > 0)); then
        printf '\nfuzz targets that failed: %s\n' "${failed[*]}" >&2
        return 1
    fi
}
