#!/bin/sh
# The size experiment: floor-accept (answers {"accepted":true} without reading its input) built
# unpadded and with exactly one part of the module padded (benches/floor/build.rs), into
# target/floor/floor-size-*.wasm, for `BENCH_SIZE=1` of e2e-tests/tests/bench_policy_server.rs:
#   floor-size-base             no padding (the same Code and Data as build.sh's floor-accept)
#   floor-size-code-500k, -2m   +500 KiB / +2 MiB of Code (distinct functions, direct calls)
#   floor-size-data-500k, -2m   +500 KiB / +2 MiB of Data; the initial memory grows with it
#   floor-size-memory-data-500k, -data-2m   initial memory as large as those two, nothing else
#   floor-size-memory-16m       initial memory +16 MiB, nothing else
#   floor-size-table-2000       +2,000 funcref table entries (tiny functions: +38 KB of Code and
#                               +8 KB of Data come with them)
#   floor-size-table-control    the same functions called directly: no table entries
#   floor-size-table-500, -1000, -1500, -8000   the same with +500 .. +8,000 entries
#   floor-size-policy-twin      padded to this policy's own Code, Data and table (POLICY, default
#                               annotated-policy.wasm; skipped if it is missing)
# Annotated with the real kwctl ($KWCTL, default kwctl on PATH); with WASM_OPT_FLAGS set, each is
# also passed through wasm-opt first (build.sh does not, so by default neither does this).
#   KWCTL=/path/to/kwctl sh benches/floor/build-size-variants.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/target/floor"
KWCTL=${KWCTL:-kwctl}
# kwctl keeps its caches out of $HOME, as in the Makefile.
home="$root/target/kwctl-home"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$home/cache}" XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-$home/config}" \
    XDG_DATA_HOME="${XDG_DATA_HOME:-$home/data}"
mkdir -p "$out"
printf '{"accepted":true}' > "$out/accept.answer.json"
built="$out/target/wasm32-wasip1/release/floor_policy.wasm"

# section NAME FILE: the size in bytes of a section per `wasm-objdump -h` (0 when absent).
section() {
    printf '%d' "$(wasm-objdump -h "$2" | sed -n "s/^ *$1 .*(size=\(0x[0-9a-f]*\)).*/\1/p" | grep . || echo 0)"
}
pages() {
    wasm-objdump -x -j Memory "$1" | sed -n 's/.*pages: initial=\([0-9]*\).*/\1/p'
}
entries() {
    wasm-objdump -x -j Table "$1" | sed -n 's/.*initial=\([0-9]*\).*/\1/p'
}

# variant NAME [FEATURES]: builds with the FLOOR_PAD_* variables of the caller's environment.
variant() {
    name=$1
    features=${2:-}
    FLOOR_ANSWER="$out/accept.answer.json" cargo build --release --quiet --target wasm32-wasip1 \
        --manifest-path "$here/Cargo.toml" --target-dir "$out/target" ${features:+--features "$features"}
    module="$built"
    if [ -n "${WASM_OPT_FLAGS:-}" ]; then
        # shellcheck disable=SC2086 # the flags are a list
        wasm-opt $WASM_OPT_FLAGS "$built" -o "$out/floor-size-$name.opt.wasm"
        module="$out/floor-size-$name.opt.wasm"
    fi
    "$KWCTL" annotate -m "$here/metadata.yml" -o "$out/floor-size-$name.wasm" "$module" >/dev/null 2>&1 \
        || { echo "annotating floor-size-$name.wasm with $KWCTL failed" >&2; exit 1; }
    rm -f "$out/floor-size-$name.opt.wasm"
    f="$out/floor-size-$name.wasm"
    printf '%-30s %9d bytes  Code %8d  Data %8d  memory %4s pages  table %5s\n' "floor-size-$name.wasm" \
        "$(wc -c < "$f")" "$(section Code "$f")" "$(section Data "$f")" "$(pages "$f")" "$(entries "$f")"
}

variant base
FLOOR_PAD_CODE_BYTES=512000 variant code-500k pad-code
FLOOR_PAD_CODE_BYTES=2048000 variant code-2m pad-code
FLOOR_PAD_DATA_BYTES=512000 variant data-500k pad-data
data_500k_pages=$(pages "$out/floor-size-data-500k.wasm")
FLOOR_PAD_DATA_BYTES=2048000 variant data-2m pad-data
data_2m_pages=$(pages "$out/floor-size-data-2m.wasm")
FLOOR_PAD_MEMORY_PAGES=$data_500k_pages variant memory-data-500k pad-memory
FLOOR_PAD_MEMORY_PAGES=$data_2m_pages variant memory-data-2m pad-memory
FLOOR_PAD_MEMORY_PAGES=$(( $(pages "$out/floor-size-base.wasm") + 256 )) variant memory-16m pad-memory
FLOOR_PAD_TABLE_ENTRIES=2000 variant table-2000 pad-table
FLOOR_PAD_TABLE_ENTRIES=2000 variant table-control pad-table-control
for entries in 500 1000 1500 8000; do
    FLOOR_PAD_TABLE_ENTRIES=$entries variant table-$entries pad-table
done

# This policy's size twin: the floor padded by the differences of Code, Data and table size (the
# table's tiny functions add about 19 bytes of Code and 4 of Data per entry, so the code padding
# is that much smaller).
policy=${POLICY:-$root/annotated-policy.wasm}
if [ -f "$policy" ]; then
    base="$out/floor-size-base.wasm"
    table=$(( $(entries "$policy") - $(entries "$base") ))
    code=$(( $(section Code "$policy") - $(section Code "$base") - 19 * table ))
    data=$(( $(section Data "$policy") - $(section Data "$base") - 4 * table ))
    echo "$(basename "$policy"): Code $(section Code "$policy")  Data $(section Data "$policy")  memory $(pages "$policy") pages  table $(entries "$policy")"
    FLOOR_PAD_CODE_BYTES=$code FLOOR_PAD_DATA_BYTES=$data FLOOR_PAD_TABLE_ENTRIES=$table \
        variant policy-twin pad-code,pad-data,pad-table
else
    echo "no $policy: no size twin of this policy" >&2
fi
