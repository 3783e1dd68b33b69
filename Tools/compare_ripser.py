#!/usr/bin/env python3
"""Compares `moduli topology --json` with ripser (PyPI) bar for bar on generated point clouds.

ripser is a peer to compare against, never a dependency of moduli. Set-up, once:
    python3 -m venv .venv-ripser && .venv-ripser/bin/pip install ripser numpy
Run (from the repository root):
    swift build -c release
    .venv-ripser/bin/python Tools/compare_ripser.py [--moduli .build/release/moduli]

Each cloud is compared twice: as points (moduli computes distances in Double, ripser in float32,
so births and deaths agree to about 1e-6 relative; the tolerance is 1e-5 relative), and as the
same float32 distance matrix given to both (--distances; the values must then agree to float32
rounding, 1e-6 relative). Bars of zero length (up to the tolerance) are dropped on both sides; a bar that never dies has
death infinity in both. Bars are matched after sorting by (birth, death), and, where near-equal
births sort differently, to any unmatched bar within the tolerance. Prints one line per cloud and
mode, and exits 1 if any bar differs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from ripser import ripser

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import topology_clouds as clouds  # noqa: E402

# (name, points, max dimension, prime, threshold)
CASES = [
    ("circle", clouds.circle(80, seed=1), 1, 2, None),
    ("circle Z/3", clouds.circle(80, seed=1), 1, 3, None),
    ("torus R^4", clouds.torus(150, seed=2), 2, 2, None),
    ("sphere", clouds.sphere(120, seed=3), 2, 2, None),
    ("klein Z/2", clouds.klein(150, seed=4), 2, 2, None),
    ("klein Z/3", clouds.klein(150, seed=4), 2, 3, None),
    ("random R^3", clouds.uniform(60, 3, seed=5), 2, 2, None),
    ("random R^3 Z/5", clouds.uniform(50, 3, seed=6), 2, 5, None),
    ("random R^5 dim 3", clouds.uniform(30, 5, seed=7), 3, 2, None),
    ("random threshold 0.3", clouds.uniform(80, 3, seed=8), 2, 2, 0.3),
    ("duplicates", clouds.with_duplicates(clouds.circle(40, seed=9), 10, seed=9), 1, 2, None),
]


def nonzero(pairs, rtol):
    """(birth, death) pairs without bars of zero length (no longer than the tolerance: float32
    distances cannot tell them from zero, e.g. sklearn gives duplicate points a distance of
    1.5e-8), sorted; death inf for never."""
    return sorted((float(b), float(d)) for b, d in pairs if not (np.isfinite(d) and d - b <= rtol * max(1.0, abs(d))))


def match(ours, theirs, rtol):
    """(matched count, largest difference, unmatched of ours, unmatched of theirs)."""
    def close(a, b):
        return all((x == y) or (np.isfinite(x) and np.isfinite(y) and abs(x - y) <= rtol * max(1.0, abs(x), abs(y)))
                   for x, y in zip(a, b))

    def gap(a, b):
        return max((0.0 if x == y else abs(x - y)) for x, y in zip(a, b))
    left, right, worst, matched = [], list(theirs), 0.0, 0
    for a in ours:
        # In sorted order the partner is usually first; else any unmatched bar within the tolerance.
        k = next((i for i, b in enumerate(right[:1]) if close(a, b)), None)
        if k is None:
            k = next((i for i, b in enumerate(right) if close(a, b)), None)
        if k is None:
            left.append(a)
            continue
        worst = max(worst, gap(a, right[k]))
        right.pop(k)
        matched += 1
    return matched, worst, left, right


def run_moduli(binary, args):
    start = time.perf_counter()
    r = subprocess.run([binary, "topology"] + args + ["--json"], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise RuntimeError(f"moduli topology {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    diagrams = json.loads(r.stdout)["diagrams"]
    return {d["dimension"]: [(b, np.inf if e is None else e) for b, e in d["pairs"]] for d in diagrams}, seconds


def compare(name, mode, ours, theirs, max_dim, rtol, seconds):
    ok, parts, worst = True, [], 0.0
    for dim in range(max_dim + 1):
        a, b = nonzero(ours.get(dim, []), rtol), nonzero(theirs[dim], rtol)
        matched, w, left, right = match(a, b, rtol)
        worst = max(worst, w)
        parts.append(f"H{dim} {matched}/{len(b)}")
        if left or right or len(a) != len(b):
            ok = False
            parts[-1] += f" (moduli only: {left[:3]}, ripser only: {right[:3]})"
    status = "OK" if ok else "MISMATCH"
    print(f"{status:8s} {name:22s} {mode:9s} " + ", ".join(parts)
          + f"; largest difference {worst:.1e}; moduli {seconds[0]:.2f} s, ripser {seconds[1]:.2f} s", flush=True)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moduli", default=".build/release/moduli", help="the moduli executable")
    args = parser.parse_args()
    all_ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, x, max_dim, prime, threshold in CASES:
            options = ["--max-dim", str(max_dim), "--coefficients", str(prime)]
            ripser_options = dict(maxdim=max_dim, coeff=prime)
            if threshold is not None:
                options += ["--threshold", repr(threshold)]
                ripser_options["thresh"] = threshold
            desc = f"{name} ({len(x)} pts)"
            # Points, float64: moduli in Double, ripser in float32.
            points = os.path.join(tmp, "points.npy")
            np.save(points, x.astype(np.float64))
            ours, s1 = run_moduli(args.moduli, ["--points", points] + options)
            start = time.perf_counter()
            theirs = ripser(x, **ripser_options)["dgms"]
            s2 = time.perf_counter() - start
            all_ok &= compare(desc, "points", ours, theirs, max_dim, 1e-5, (s1, s2))
            # The same float32 distance matrix for both.
            d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)).astype(np.float32)
            matrix = os.path.join(tmp, "distances.npy")
            np.save(matrix, d)
            ours, s1 = run_moduli(args.moduli, ["--distances", matrix] + options)
            start = time.perf_counter()
            theirs = ripser(d, distance_matrix=True, **ripser_options)["dgms"]
            s2 = time.perf_counter() - start
            all_ok &= compare(desc, "distances", ours, theirs, max_dim, 1e-6, (s1, s2))
    print("all bars agree" if all_ok else "some bars differ")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
