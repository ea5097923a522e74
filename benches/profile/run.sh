#!/bin/sh
# Instruction counts (valgrind --tool=callgrind) of the policy's `validate`, natively, per call and
# per piece, on the committed bench requests; then the functions costing most (inclusive).
#   sh benches/profile/run.sh [request-stem ...]      (default: pod-1-inject pod-1-accept configmap)
# Needs valgrind (Debian package valgrind). Output and callgrind files in target/profile/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/target/profile"
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "valgrind is required: apt-get install -y valgrind" >&2; exit 1; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --target-dir "$out/target"
bin="$out/target/release/image-pull-secrets-profile"
settings="$root/benches/settings/image-pull-secrets.json"
[ $# -gt 0 ] || set -- pod-1-inject pod-1-accept configmap

# Instructions of a run minus those of a shorter run: the cost of the extra calls alone.
ir() { # request mode iterations
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$root/benches/requests/$1.json" "$settings" "$2" "$3" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
echo "| request | piece | instructions per call |"
echo "|---|---|---:|"
for request in "$@"; do
    for mode in full payload settings object response; do
        low=$(ir "$request" "$mode" 10)
        high=$(ir "$request" "$mode" 110)
        echo "| $request | $mode | $(( (high - low) / 100 )) |"
    done
done
for request in "$@"; do
    file="$out/callgrind.$request.out"
    valgrind --tool=callgrind --callgrind-out-file="$file" "$bin" "$root/benches/requests/$request.json" "$settings" full 200 >/dev/null 2>&1
    callgrind_annotate --inclusive=yes "$file" 2>/dev/null | head -60 > "$out/callgrind.$request.txt"
    echo "inclusive profile: $out/callgrind.$request.txt"
done
