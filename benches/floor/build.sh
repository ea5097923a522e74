#!/bin/sh
# Builds the floor modules the issue-12 benches run beside this policy, into target/floor/:
#   floor-accept.wasm                 answers {"accepted":true}
#   floor-inject-N.wasm (N=1,10,100)  answers this policy's own answer to requests/pod-N-inject.json,
#                                     mutated object included (printed by benches/profile)
# and the same four with `-lookup` (one Secret lookup first, as verification makes). None reads its
# input: what they cost is the host's floor under that answer. Annotated with the real kwctl ($KWCTL,
# default kwctl on PATH; `make floor-modules` finds it).
#   KWCTL=/path/to/kwctl WASM_OPT_FLAGS="-O3 ..." sh benches/floor/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/target/floor"
KWCTL=${KWCTL:-kwctl}
mkdir -p "$out"
cargo build --release --quiet --manifest-path "$root/benches/profile/Cargo.toml" --target-dir "$root/target/profile/target"
profile="$root/target/profile/target/release/image-pull-secrets-profile"
printf '{"accepted":true}' > "$out/accept.answer.json"
for n in 1 10 100; do
    "$profile" "$root/benches/requests/pod-$n-inject.json" "$root/benches/settings/image-pull-secrets.json" answer \
        > "$out/inject-$n.answer.json"
done
for name in accept inject-1 inject-10 inject-100; do
    for lookup in "" -lookup; do
        FLOOR_ANSWER="$out/$name.answer.json" cargo build --release --quiet --target wasm32-wasip1 \
            --manifest-path "$here/Cargo.toml" --target-dir "$out/target" ${lookup:+--features lookup}
        "$KWCTL" annotate -m "$here/metadata.yml" -o "$out/floor-$name$lookup.wasm" \
            "$out/target/wasm32-wasip1/release/floor_policy.wasm" >/dev/null 2>&1 \
            || { echo "annotating floor-$name$lookup.wasm with $KWCTL failed" >&2; exit 1; }
    done
done
ls "$out"/floor-*.wasm
