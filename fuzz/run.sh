#!/bin/sh
# Runs every fuzz target (`request`, `settings`) for FUZZ_SECONDS (default 120) each and prints, per
# target, the executions, their rate, the time spent fuzzing (libFuzzer's count) and in all (with any
# rebuild), and the outcome. Exits non-zero if any target crashed (the input is kept under
# fuzz/artifacts/<target>/). Each run starts from a scratch copy of the committed seeds in
# fuzz/corpus/<target>/, so fuzzing never dirties the work tree.
#
#   FUZZ_SECONDS=60 sh fuzz/run.sh            # every target
#   FUZZ_SECONDS=60 sh fuzz/run.sh settings   # some targets
set -u

FUZZ_SECONDS=${FUZZ_SECONDS:-120}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing; installing it from crates.io" >&2
    cargo install cargo-fuzz --locked || exit 2
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "the nightly toolchain is required: rustup toolchain install nightly" >&2
    exit 2
fi

targets=${*:-$(cargo +nightly fuzz list --fuzz-dir fuzz)}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/image-pull-secrets-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM

echo "building fuzz targets (release, debug assertions, AddressSanitizer)"
build_start=$(date +%s)
cargo +nightly fuzz build --fuzz-dir fuzz || exit 2
echo "built in $(($(date +%s) - build_start)) s"

# The value of one `stat::NAME:` line of the current target's log.
stat() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$log" | tail -n 1; }

crashed=""
summary="$scratch/summary"
printf '%-20s %11s %8s %8s %7s  %s\n' target executions exec/s fuzz_s wall_s result >"$summary"
for target in $targets; do
    corpus="$scratch/corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    if [ -d "fuzz/corpus/$target" ]; then
        cp fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null
    fi
    log="$scratch/$target.log"
    echo "fuzzing $target for $FUZZ_SECONDS s"
    start=$(date +%s)
    cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout=10 -print_final_stats=1 >"$log" 2>&1
    status=$?
    seconds=$(($(date +%s) - start))
    # libFuzzer's closing lines: "Done N runs in S second(s)" and the -print_final_stats block
    # ("stat::number_of_executed_units: N", "stat::average_exec_per_sec: R"), printed on a crash too.
    executions=$(stat number_of_executed_units)
    rate=$(stat average_exec_per_sec)
    fuzzed=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    if [ -z "$fuzzed" ] && [ -n "$executions" ] && [ "${rate:-0}" -gt 0 ]; then
        fuzzed=$((executions / rate))
    fi
    if [ "$status" -eq 0 ]; then
        result=ok
    else
        result="CRASH (exit $status)"
        crashed="$crashed $target"
        cp "$log" "fuzz/artifacts/$target/last-run.log"
        echo "---- $target crashed (full log: fuzz/artifacts/$target/last-run.log)" >&2
        grep -A1 "panicked at" "$log" | head -n 4 >&2
        grep -E "^(==[0-9]+== ?ERROR|SUMMARY|artifact_prefix|Base64:)" "$log" >&2
        echo "reproduce: cargo +nightly fuzz run --fuzz-dir fuzz $target <crash file>" >&2
    fi
    printf '%-20s %11s %8s %8s %7s  %s\n' "$target" "${executions:-?}" "${rate:-?}" "${fuzzed:-?}" \
        "$seconds" "$result" >>"$summary"
done

echo
cat "$summary"
if [ -n "$crashed" ]; then
    echo "crashed:$crashed (inputs and logs under fuzz/artifacts/)" >&2
    exit 1
fi
