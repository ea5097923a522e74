#!/bin/sh
# The project's demo (`make demo`): run the policy on an example Pod and Deployment as kwctl
# would, with the cluster's answers replayed from session files, and explain each response.
#
#   KWCTL=/path/to/kwctl sh examples/demo.sh
#
# KWCTL:  the real kwctl (default: kwctl on PATH). Its log lines go to a scratch file, shown
#         only if the run fails. Each response is explained with jq, or shown raw with its patch
#         decoded when jq is missing.
# POLICY: the annotated module (default annotated-policy.wasm at the repository root).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
# Paths given by the caller are relative to the caller's directory; the defaults to the root.
absolute() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        */*) printf '%s\n' "$(pwd)/$1" ;;
        *) printf '%s\n' "$1" ;; # a command name, looked up on PATH
    esac
}
KWCTL=$(absolute "${KWCTL:-kwctl}")
case ${POLICY:=$root/annotated-policy.wasm} in
    /*) ;;
    *) POLICY=$(pwd)/$POLICY ;;
esac
cd "$root"

if ! command -v "$KWCTL" >/dev/null 2>&1; then
    echo "demo: no kwctl to run the policy with; set KWCTL=<kwctl> (make demo finds it, or says how to install it)" >&2
    exit 1
fi
if [ ! -f "$POLICY" ]; then
    echo "demo: $POLICY is missing; build it with: make annotated-policy.wasm" >&2
    exit 1
fi

# kwctl writes its cache and logs under the XDG folders: keep them out of the user's home.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export XDG_CACHE_HOME="$scratch/cache" XDG_CONFIG_HOME="$scratch/config" XDG_DATA_HOME="$scratch/data"

# explain <request>: tells the AdmissionResponse on stdin in words.
explain() {
    if command -v jq >/dev/null 2>&1; then
        explain_with_jq "$1"
    else
        response=$(cat)
        patch=$(printf '%s\n' "$response" | sed -n 's/.*"patch":"\([^"]*\)".*/\1/p')
        echo "(install jq for a fuller explanation)"
        if [ -n "$patch" ]; then
            printf 'patch: %s\n' "$(printf '%s' "$patch" | base64 -d)"
        else
            echo "patch: none"
        fi
    fi
}

# The decision, the warnings, the patch's operations, and each imagePullSecrets list before and
# after the patch (applied here: the policy's patches only add, replace and remove).
explain_with_jq() {
    jq -r --slurpfile review "$1" '
        def pointer: ltrimstr("/") | split("/") | map(gsub("~1"; "/") | gsub("~0"; "~") | (tonumber? // .));
        def apply($ops): reduce $ops[] as $op (.;
            ($op.path | pointer) as $p
            | if $op.op == "add" and ($p | length) > 0 and (getpath($p[:-1]) | type) == "array" then
                getpath($p[:-1]) as $list
                | (if $p[-1] == "-" then ($list | length) else $p[-1] end) as $i
                | setpath($p[:-1]; $list[:$i] + [$op.value] + $list[$i:])
              elif $op.op == "add" or $op.op == "replace" then setpath($p; $op.value)
              elif $op.op == "remove" then delpaths([$p])
              else . end);
        def names: if . == null or . == [] then "none" else map(.name // "<no name>") | join(", ") end;
        def where: map(tostring) | join("/") | "/" + .;
        ($review[0].request.object) as $before
        | (if .patch then (.patch | @base64d | fromjson) else [] end) as $ops
        | ($before | apply($ops)) as $after
        | (if .allowed then "decision: allowed"
           else "decision: rejected, code \(.status.code // "none")\nmessage: \(.status.message // "")" end),
          "warnings: \(.warnings // [] | length)",
          (.warnings // [] | .[] | "  - \(.)"),
          (if ($ops | length) == 0 then "patch: none" else "patch:" end),
          ($ops[] | "  \(.op) \(.path)\(if has("value") then " " + (.value | tojson) else "" end)"),
          ([$before, $after | paths | select(.[-1] == "imagePullSecrets")] | unique[]
           | . as $p
           | "imagePullSecrets at \($p[:-1] | where):",
             "  before: \($before | getpath($p) | names)",
             "  after:  \($after | getpath($p) | names)")
    '
}

# demo <title> <request> <session>
demo() {
    title=$1 request=$2 session=$3
    echo "=== $title"
    echo "\$ $(basename "$KWCTL") run -r $request --settings-path examples/settings.yaml \\"
    echo "    --allow-context-aware --replay-host-capabilities-interactions $session $(basename "$POLICY")"
    # `if !` keeps `set -e` from ending the script before the message.
    if ! response=$("$KWCTL" run -r "$request" --settings-path examples/settings.yaml \
        --allow-context-aware --replay-host-capabilities-interactions "$session" "$POLICY" \
        2>"$scratch/log"); then
        cat "$scratch/log" >&2
        echo "demo: the run on $request failed" >&2
        exit 1
    fi
    echo "$response"
    echo
    echo "explained:"
    if ! printf '%s\n' "$response" | explain "$request"; then
        echo "demo: cannot explain the response to $request" >&2
        exit 1
    fi
    echo
}

echo "Running the policy with $KWCTL"
echo
demo "A Pod from the corporate registry and Docker Hub's acme organisation" \
    examples/pod.json examples/pod-session.yml
demo "A Deployment whose template lists no pull secret, running as ServiceAccount builder" \
    examples/deployment.json examples/deployment-session.yml
