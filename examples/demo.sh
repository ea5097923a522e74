#!/bin/sh
# The project's demo (`make demo`): run the policy on an example Pod and Deployment as kwctl
# would, with the cluster's answers replayed from session files, and explain each response.
#
#   RUNNER=target/release/policy-runner sh examples/demo.sh
#
# RUNNER: the policy-runner binary (or kwctl for the runs; `explain` needs policy-runner).
# POLICY: the annotated module (default annotated-policy.wasm at the repository root).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
# Paths given by the caller are relative to the caller's directory; the defaults to the root.
case ${RUNNER:=$root/target/release/policy-runner} in
    /*) ;;
    */*) RUNNER=$(pwd)/$RUNNER ;;
esac
case ${POLICY:=$root/annotated-policy.wasm} in
    /*) ;;
    *) POLICY=$(pwd)/$POLICY ;;
esac
cd "$root"

if ! command -v "$RUNNER" >/dev/null 2>&1 || [ ! -f "$POLICY" ]; then
    echo "demo: $RUNNER or $POLICY is missing; build them with: make annotated-policy.wasm runner" >&2
    exit 1
fi

# demo <title> <request> <session>
demo() {
    title=$1 request=$2 session=$3
    echo "=== $title"
    echo "\$ policy-runner run -r $request --settings-path examples/settings.yaml \\"
    echo "    --allow-context-aware --replay-host-capabilities-interactions $session $(basename "$POLICY")"
    # `if !` keeps `set -e` from ending the script before the message.
    if ! response=$("$RUNNER" run -r "$request" --settings-path examples/settings.yaml \
        --allow-context-aware --replay-host-capabilities-interactions "$session" "$POLICY"); then
        echo "demo: the run on $request failed" >&2
        exit 1
    fi
    echo "$response"
    echo
    echo "\$ ... | policy-runner explain -r $request"
    if ! printf '%s\n' "$response" | "$RUNNER" explain -r "$request"; then
        echo "demo: cannot explain the response to $request" >&2
        exit 1
    fi
    echo
}

demo "A Pod from the corporate registry and Docker Hub's acme organisation" \
    examples/pod.yaml examples/pod-session.yml
demo "A Deployment whose template lists no pull secret, running as ServiceAccount builder" \
    examples/deployment.yaml examples/deployment-session.yml
