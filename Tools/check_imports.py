#!/usr/bin/env python3
"""Checks that every target of the package declares what it imports.

Reads the targets from `swift package dump-package` (run in the repository root, or give the JSON
file as the first argument) and every `import X` of each target's Swift files; a module of this
package, or a product of a dependency, that a target imports without naming it among its
dependencies is an error. System modules (Foundation, Glibc, Testing, ...) are not checked.
Exit status 1 lists each missing dependency with the file that imports it.
"""
import json
import os
import re
import subprocess
import sys

IMPORT = re.compile(r"^\s*(?:@testable\s+|@_implementationOnly\s+|public\s+|package\s+|internal\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)")


def package_description(argv):
    if len(argv) > 1:
        with open(argv[1], encoding="utf-8") as f:
            return json.load(f)
    out = subprocess.run(["swift", "package", "dump-package"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def target_path(target):
    if target.get("path"):
        return target["path"]
    root = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(root, target["name"])


def declared(target):
    names = set()
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                names.add(dependency[kind][0])
    return names


def main(argv):
    package = package_description(argv)
    local = {t["name"] for t in package["targets"]}
    products = set()
    for target in package["targets"]:
        for dependency in target.get("dependencies", []):
            if "product" in dependency:
                products.add(dependency["product"][0])
    checked = local | products | {"ArgumentParser", "RealModule", "ComplexModule", "Numerics"}
    problems = []
    for target in package["targets"]:
        if target["type"] == "system":
            continue
        allowed = declared(target) | {target["name"]}
        root = target_path(target)
        for folder, _, files in os.walk(root):
            for name in sorted(files):
                if not name.endswith(".swift"):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        match = IMPORT.match(line)
                        if match and match.group(1) in checked and match.group(1) not in allowed:
                            problems.append(f"{path}:{number}: target {target['name']} imports {match.group(1)} "
                                            f"but does not declare it in Package.swift")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} undeclared import(s): add each module to its target's dependencies in Package.swift.")
        return 1
    print(f"imports: every target ({len(package['targets'])}) declares what it imports")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
