#!/usr/bin/env python3
"""The real `kwctl bench` on four modules, interleaved per request in one run: the no-op module
(the runtime's own cost), the floor module for the request (benches/floor: this policy's exact
answer returned without reading the input, so the host's handling of that answer, such as diffing
a mutated object into a patch, is all it costs), this policy, and Kubewarden's
trusted-repos-policy. Prints the issue-12 table: the median of `validate` for each, each module's
own work (median - no-op's), the ratio ours / theirs, and the floor's ratio floor / theirs: the
lowest ratio any policy giving this answer can reach.

    make bench-kwctl                        # or:
    python3 benches/kwctl-bench.py [--rounds N] [--warm-up-time S] [--measurement-time S]

Each (request, module) is benched once per round; rounds rotate the module order, and the figure
is the median over rounds of kwctl's median. Before benching, `kwctl run` checks every answer
(allowed; a patch exactly for this policy's inject requests). Verification is off here
(settings/image-pull-secrets.json): kwctl bench replays a recorded session as a queue that the
first evaluation empties, and trusted-repos-policy makes no lookup either.

Environment: KWCTL (default kwctl on PATH, else ../shared/kubewarden/kwctl), POLICY (default
annotated-policy.wasm), NOOP_POLICY and TRUSTED_REPOS_POLICY (default next to kwctl), FLOOR_DIR
(default target/floor, built by benches/floor/build.sh), BENCH_SCRATCH (default
target/kwctl-bench; XDG dirs and copies of the modules go there).
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# (file stem under requests/, label in the table, whether this policy answers with a patch)
REQUESTS = [
    ("configmap", "ConfigMap (a kind we do not handle), three rules", False),
    ("pod-1-accept", "Pod, 1 container, secret already listed (accept)", False),
    ("pod-10-accept", "Pod, 10 containers, accept", False),
    ("pod-100-accept", "Pod, 100 containers, accept", False),
    ("pod-1-inject", "Pod, 1 container, inject (patch)", True),
    ("pod-10-inject", "Pod, 10 containers, inject (patch)", True),
    ("pod-100-inject", "Pod, 100 containers, inject (patch)", True),
]

MODULES = ["noop", "floor", "ours", "theirs"]
SETTINGS = {
    "noop": HERE / "settings" / "noop.json",
    "floor": HERE / "settings" / "noop.json",
    "ours": HERE / "settings" / "image-pull-secrets.json",
    "theirs": HERE / "settings" / "trusted-repos.json",
}

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# kwctl (tiny-bench) prints one block per benchmark; the one named `validate` ends with
# "(sample data: med = 72.30µs, ...)".
VALIDATE_MEDIAN = re.compile(r"^validate \[.*?\n.*?med = ([0-9.]+)\s*(ns|µs|us|ms|s)\b", re.M | re.S)
UNIT_NS = {"ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}


def parse_validate_median_ns(output):
    text = ANSI.sub("", output)
    match = VALIDATE_MEDIAN.search(text)
    if not match:
        raise RuntimeError(f"no `validate` median in kwctl bench output:\n{text[-2000:]}")
    return float(match.group(1)) * UNIT_NS[match.group(2)]


def fmt_time(ns):
    """1.00 ms, 113 µs, 27.5 µs: three significant figures, as the issue's tables."""
    sign = "−" if ns < 0 else ""
    ns = abs(ns)
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale or unit == "µs":
            value = ns / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{sign}{value:.{digits}f} {unit}"


def fmt_size(size):
    return f"{size} bytes ({size / 1024:.1f} KiB)"


class Kwctl:
    def __init__(self, binary, scratch):
        self.binary = binary
        self.env = dict(os.environ)
        for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
            path = scratch / "xdg" / var.split("_")[1].lower()
            path.mkdir(parents=True, exist_ok=True)
            self.env[var] = str(path)
        self.env.pop("RUST_BACKTRACE", None)

    def run(self, args, timeout):
        # subprocess.run kills the child (by its PID) on timeout.
        return subprocess.run(
            [str(self.binary), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def check_answer(self, module, settings, request, expect_patch):
        result = self.run(["run", "-r", str(request), "-s", str(settings), str(module)], timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"kwctl run {module.name} {request.name} failed:\n{result.stderr[-2000:]}")
        answer = json.loads(result.stdout.strip().splitlines()[-1])
        has_patch = bool(answer.get("patch"))
        if answer.get("allowed") is not True or has_patch != expect_patch:
            raise RuntimeError(
                f"{module.name} on {request.name}: expected allowed"
                f"{' with a patch' if expect_patch else ' without a patch'}, got {answer}"
            )
        if has_patch:
            patch = json.loads(base64.b64decode(answer["patch"]))
            if len(patch) != 1 or patch[0]["value"] != {"name": "corp-registry"}:
                raise RuntimeError(f"{module.name} on {request.name}: unexpected patch {patch}")

    def bench(self, module, settings, request, warm_up, measurement):
        args = [
            "bench",
            "--warm-up-time", str(warm_up),
            "--measurement-time", str(measurement),
            "-r", str(request),
            "-s", str(settings),
            str(module),
        ]
        result = self.run(args, timeout=120 + 4 * (warm_up + measurement))
        if result.returncode != 0:
            raise RuntimeError(f"kwctl bench {module.name} {request.name} failed:\n{result.stderr[-2000:]}")
        return parse_validate_median_ns(result.stdout + result.stderr)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    # kwctl takes whole seconds. The instance is already warm from the validate_settings
    # benchmark kwctl runs first, and 0 s warm-up gave the same medians as 1 s here.
    parser.add_argument("--warm-up-time", type=int, default=0)
    parser.add_argument("--measurement-time", type=int, default=1)
    parser.add_argument("--only", help="comma-separated request stems (default: all)")
    args = parser.parse_args()

    shared = ROOT.parent / "shared" / "kubewarden"
    found = shutil.which(os.environ.get("KWCTL") or "kwctl") or shutil.which(str(shared / "kwctl"))
    if not found:
        sys.exit("kwctl not found (KWCTL, PATH, ../shared/kubewarden/kwctl): set KWCTL to the real kwctl 1.36")
    kwctl_path = Path(found).resolve()
    sources = {
        "ours": Path(os.environ.get("POLICY", ROOT / "annotated-policy.wasm")),
        "noop": Path(os.environ.get("NOOP_POLICY", kwctl_path.parent / "noop-policy.wasm")),
        "theirs": Path(os.environ.get("TRUSTED_REPOS_POLICY", kwctl_path.parent / "trusted-repos-policy.wasm")),
    }
    floor_dir = Path(os.environ.get("FLOOR_DIR", ROOT / "target" / "floor"))
    for stem in ("accept", "inject-1", "inject-10", "inject-100"):
        sources[f"floor-{stem}"] = floor_dir / f"floor-{stem}.wasm"
    for name, path in sources.items():
        if not path.is_file():
            sys.exit(f"{name}: {path} does not exist (make annotated-policy.wasm builds ours, "
                     "benches/floor/build.sh the floors)")
    scratch = Path(os.environ.get("BENCH_SCRATCH", ROOT / "target" / "kwctl-bench")).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    # Copies, so a rebuild during the run cannot change what is measured.
    copies = {}
    for name, path in sources.items():
        copies[name] = scratch / f"{name}.wasm"
        shutil.copyfile(path, copies[name])

    def module(name, request):
        """The module benched as `name` on `request`: the floor is the one with this request's answer."""
        if name != "floor":
            return copies[name]
        stem = request.replace("pod-", "").replace("-inject", "")
        return copies[f"floor-inject-{stem}"] if request.endswith("-inject") else copies["floor-accept"]

    requests = [r for r in REQUESTS if not args.only or r[0] in args.only.split(",")]
    kwctl = Kwctl(kwctl_path, scratch)

    version = kwctl.run(["--version"], timeout=30).stdout.strip()
    print(f"# kwctl bench: {len(requests)} requests x {len(MODULES)} modules x {args.rounds} rounds, "
          f"--warm-up-time {args.warm_up_time} --measurement-time {args.measurement_time}", file=sys.stderr)
    for name, (request, _, expect_patch) in [(m, r) for r in requests for m in MODULES]:
        kwctl.check_answer(module(name, request), SETTINGS[name], HERE / "requests" / f"{request}.json",
                           expect_patch and name in ("ours", "floor"))
    print("# answers checked with kwctl run", file=sys.stderr)

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    medians = {(r[0], m): [] for r in requests for m in MODULES}
    for round_index in range(args.rounds):
        shift = round_index % len(MODULES)
        order = MODULES[shift:] + MODULES[:shift]
        for request, _, _ in requests:
            for name in order:
                ns = kwctl.bench(module(name, request), SETTINGS[name], HERE / "requests" / f"{request}.json",
                                 args.warm_up_time, args.measurement_time)
                medians[(request, name)].append(ns)
            print(f"# round {round_index + 1}/{args.rounds} {request}: " + ", ".join(
                f"{m} {fmt_time(medians[(request, m)][-1])}" for m in MODULES), file=sys.stderr)
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()[0]

    print(f"`kwctl bench` ({version.splitlines()[0] if version else kwctl_path}), median of `validate`, "
          f"median over {args.rounds} interleaved rounds; own work = median − no-op's.\n")
    print("| request | no-op | floor | this policy | trusted-repos | own work: floor | own work: ours "
          "| own work: theirs | ratio | floor's ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for request, label, _ in requests:
        noop, floor, ours, theirs = (statistics.median(medians[(request, m)]) for m in MODULES)
        own_floor, own_ours, own_theirs = floor - noop, ours - noop, theirs - noop

        def ratio(own):
            return f"{own / own_theirs:.2f}×" if own_theirs > 0 else "n/a"

        print(f"| {label} | {fmt_time(noop)} | {fmt_time(floor)} | {fmt_time(ours)} | {fmt_time(theirs)} | "
              f"{fmt_time(own_floor)} | {fmt_time(own_ours)} | {fmt_time(own_theirs)} | {ratio(own_ours)} | "
              f"{ratio(own_floor)} |")
    print("\nEvery round's medians (their spread is the machine's noise):\n")
    print("| request | " + " | ".join(f"round {i + 1}: no-op / floor / ours / theirs" for i in range(args.rounds)) + " |")
    print("|---|" + "---:|" * args.rounds)
    for request, label, _ in requests:
        cells = [" / ".join(fmt_time(medians[(request, m)][i]) for m in MODULES) for i in range(args.rounds)]
        print(f"| {request} | " + " | ".join(cells) + " |")

    print("\nModules:\n")
    for name, label in (("ours", "this policy (annotated)"), ("noop", "no-op"), ("theirs", "trusted-repos-policy")):
        print(f"- {label}: {sources[name]}, {fmt_size(copies[name].stat().st_size)}, "
              f"sha256 {sha256(copies[name])[:12]}")
    print(f"- floors: {floor_dir}/floor-*.wasm (benches/floor/build.sh)")
    built = sources["ours"].parent / "target" / "wasm32-wasip1" / "wasm" / "image_pull_secrets.wasm"
    optimised = sources["ours"].parent / "policy.wasm"
    for path, label in ((built, "before wasm-opt (cargo's output)"), (optimised, "after wasm-opt (policy.wasm)")):
        if path.is_file():
            print(f"- {label}: {path}, {fmt_size(path.stat().st_size)}")
    print(f"\nRun: {elapsed:.0f} s, 1-minute load average {load_before:.2f} before and {load_after:.2f} after, "
          f"{os.cpu_count()} CPUs.")


if __name__ == "__main__":
    main()
