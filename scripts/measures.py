#!/usr/bin/env python3
"""The size measures CONTRIBUTING.md sets limits on, counted in the files git tracks:

- the policy's non-test code: lines of src/ that are neither blank nor `//` comments, outside
  items marked `#[cfg(test)]` (brace-counted; braces inside strings are rare enough here to
  ignore); src/testing.rs and src/*/tests.rs are test code;
- the Rust code around it: every other such line of a tracked `.rs` file, by area;
- runs of 10 or more lines that stand twice in the tree (the `duplicates` tool, when on PATH).

    python3 scripts/measures.py                # every measure
    python3 scripts/measures.py src/lib.rs     # the non-test lines of these files only
"""
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DUPLICATE_LINES = 10


def is_code(text):
    return bool(text) and not text.startswith("//")


def nontest_lines(path):
    depth, skip_above, pending, lines = 0, None, False, 0
    for line in open(path, encoding="utf-8"):
        text = line.strip()
        opened = line.count("{") - line.count("}")
        if skip_above is not None:  # inside a test item
            depth += opened
            if depth <= skip_above:
                skip_above = None
            continue
        if text.startswith("#[cfg(test)]"):
            pending = True
            continue
        if pending:  # the test item's first lines, up to its `{` or `;`
            if opened > 0:
                skip_above, pending = depth, False
            elif text.endswith(";"):
                pending = False
            depth += opened
            continue
        depth += opened
        if is_code(text):
            lines += 1
    return lines


def code_lines(path):
    return sum(is_code(line.strip()) for line in open(path, encoding="utf-8"))


def is_policy_source(name):
    return name.startswith("src/") and not name.endswith(("testing.rs", "/tests.rs"))


def tracked_rust_files():
    listed = subprocess.run(["git", "ls-files", "-z", "--", "*.rs"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


def duplicate_pairs():
    """Pairs of places sharing DUPLICATE_LINES or more lines, or why they were not counted."""
    if not shutil.which("duplicates"):
        return None, "not measured: the duplicates tool is not on PATH"
    out = subprocess.run(["duplicates", "--repo", str(ROOT), "--min-lines", str(DUPLICATE_LINES),
                          "--most", "200", "--seconds", "300"],
                         capture_output=True, text=True).stdout
    if "incomplete:" in out:
        return None, "not measured: " + out[out.index("incomplete:"):].splitlines()[0]
    first = out.splitlines()[0] if out else ""
    if first.startswith("no duplicates"):
        return 0, first
    found = re.match(r"(\d+) pairs?", first)
    return (int(found.group(1)), first) if found else (None, f"not measured: {first!r}")


def main():
    if sys.argv[1:]:
        for name in sys.argv[1:]:
            print(nontest_lines(name), name)
        return
    files = tracked_rust_files()
    policy = {name: nontest_lines(ROOT / name) for name in files if is_policy_source(name)}
    around = Counter()
    for name in files:
        area = name.split("/")[0] if "/" in name else "."
        if area == "src":
            area = "src (test code)"
        around[area] += code_lines(ROOT / name) - policy.get(name, 0)
    print(f"{sum(policy.values()):6}  policy non-test code (src/, outside #[cfg(test)])")
    print(f"{policy.get('src/lib.rs', 0):6}    of which src/lib.rs")
    print(f"{sum(around.values()):6}  Rust code outside the policy's non-test code")
    for area, lines in sorted(around.items(), key=lambda item: -item[1]):
        print(f"{lines:6}    {area}")
    pairs, said = duplicate_pairs()
    shown = "     -" if pairs is None else f"{pairs:6}"
    print(f"{shown}  pairs of places sharing {DUPLICATE_LINES}+ lines ({said})")


if __name__ == "__main__":
    main()
