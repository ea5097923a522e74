#!/usr/bin/env python3
"""Writes the Cargo.lock of what the policy module links, and nothing else, for the SBOM.

The repository's Cargo.lock also holds the dev-dependencies, the e2e-tests workspace member and
build scripts' dependencies, none of which is in the module; fuzz/ and benches/ have
lockfiles of their own. syft reports every package of every lockfile it
finds, so scanning the tree would list all of that and draw CVE reports against the policy.

This walks `cargo metadata --filter-platform wasm32-wasip1` from the policy package through
normal dependencies that are not proc-macros, keeps those [[package]] entries of Cargo.lock, and writes them with
Cargo.toml into OUT_DIR, which syft then scans.

usage: module-lockfile.py OUT_DIR
"""

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

PACKAGE = "image-pull-secrets"
TARGET = "wasm32-wasip1"


def is_proc_macro(package: dict) -> bool:
    return any("proc-macro" in target["kind"] for target in package["targets"])


def module_packages() -> set[tuple[str, str]]:
    """(name, version) of the policy and everything it links for the wasm target."""
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked",
             "--filter-platform", TARGET],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    packages = {package["id"]: package for package in metadata["packages"]}
    nodes = {node["id"]: node for node in metadata["resolve"]["nodes"]}
    root = next(id for id, package in packages.items()
                if package["name"] == PACKAGE and package["source"] is None)
    seen, stack = set(), [root]
    while stack:
        id = stack.pop()
        if id in seen:
            continue
        seen.add(id)
        for dep in nodes[id]["deps"]:
            # kind None is a normal dependency; "dev" and "build" never reach the module, nor
            # does a proc-macro crate (it runs in the compiler) or what only it depends on.
            if any(kind["kind"] is None for kind in dep["dep_kinds"]) and not is_proc_macro(
                packages[dep["pkg"]]
            ):
                stack.append(dep["pkg"])
    return {(packages[id]["name"], packages[id]["version"]) for id in seen}


def toml_string(value: str) -> str:
    return json.dumps(value)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    keep = module_packages()
    lock = tomllib.loads(Path("Cargo.lock").read_text())
    lines = [
        "# The policy module's own dependencies (wasm32-wasip1, normal dependencies only),",
        "# cut from the repository's Cargo.lock by .github/scripts/module-lockfile.py.",
        f"version = {lock['version']}",
    ]
    kept = 0
    for package in lock["package"]:
        if (package["name"], package["version"]) not in keep:
            continue
        kept += 1
        lines += ["", "[[package]]"]
        for key in ("name", "version", "source", "checksum"):
            if key in package:
                lines.append(f"{key} = {toml_string(package[key])}")
        # Only dependencies that are kept: a package's list names every kind.
        deps = [dep for dep in package.get("dependencies", [])
                if dep.split(" ")[0] in {name for name, _ in keep}]
        if deps:
            lines.append("dependencies = [")
            lines += [f" {toml_string(dep)}," for dep in deps]
            lines.append("]")
    if kept != len(keep):
        sys.exit(f"Cargo.lock holds {kept} of the {len(keep)} packages cargo metadata names")
    (out / "Cargo.lock").write_text("\n".join(lines) + "\n")
    shutil.copy("Cargo.toml", out / "Cargo.toml")
    print(f"{out}/Cargo.lock: {kept} packages")


if __name__ == "__main__":
    main()
