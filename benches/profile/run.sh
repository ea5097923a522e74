#!/bin/sh
# Instructions (valgrind --tool=callgrind) of the policy's `validate` per call, natively, on the
# committed bench requests with the bench's three rules, no verification; then the functions
# costing most (inclusive), in target/profile/callgrind.REQUEST.txt.
#   sh benches/profile/run.sh [request-stem ...]      (default: every request BENCHMARKS.md lists)
# Needs valgrind (Debian package valgrind).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/target/profile"
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "valgrind is required: apt-get install -y valgrind" >&2; exit 1; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --target-dir "$out/target"
bin="$out/target/release/image-pull-secrets-profile"
settings="$root/benches/settings/image-pull-secrets.json"
[ $# -gt 0 ] || set -- configmap pod-1-accept pod-1-inject pod-10-accept pod-10-inject pod-100-accept pod-100-inject

# Instructions of a run of N calls; the difference of two runs is the calls' own cost.
ir() { # request iterations [callgrind output file]
    valgrind --tool=callgrind --callgrind-out-file="${3:-/dev/null}" "$bin" "$root/benches/requests/$1.json" "$settings" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
echo "| request | instructions per validate |"
echo "|---|---:|"
for request in "$@"; do
    low=$(ir "$request" 10)
    high=$(ir "$request" 110 "$out/callgrind.$request.out")
    echo "| $request | $(( (high - low) / 100 )) |"
    callgrind_annotate --inclusive=yes "$out/callgrind.$request.out" 2>/dev/null | head -60 > "$out/callgrind.$request.txt"
done
