#!/usr/bin/env python3
"""Counts the non-test code of src/: non-blank lines that are not `//` comments, outside items
marked `#[cfg(test)]` (brace-counted; braces inside strings are rare enough here to ignore).
src/testing.rs and src/*/tests.rs are test code and not counted.

    python3 .github/scripts/nontest-lines.py            # every counted file of src/, and the total
    python3 .github/scripts/nontest-lines.py src/lib.rs
"""
import glob
import sys


def count(path):
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
        if text and not text.startswith("//"):
            lines += 1
    return lines


files = sys.argv[1:] or sorted(
    f for f in glob.glob("src/**/*.rs", recursive=True)
    if not f.endswith(("testing.rs", "/tests.rs"))
)
total = 0
for path in files:
    total += count(path)
    print(count(path), path)
print(total, "total")
