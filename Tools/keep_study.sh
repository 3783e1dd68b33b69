#!/usr/bin/env bash
# Keeps a sweep directory's small files in studies/: sweep.json, selection.json, summary.md and
# summary.csv, configs/, logs/, and every finished run (one with a summary.json) without its
# weights (*.safetensors) and coefficient matrix (initial_R.npy). Unfinished runs are left out:
# copied back to a runs directory, the sweep runs them again. Usage:
#   Tools/keep_study.sh runs/NAME studies/NAME
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 SWEEP_DIR STUDY_DIR" >&2; exit 64; fi
src=$1 dst=$2
[ -f "$src/sweep.json" ] || { echo "$src has no sweep.json: it is not a sweep directory." >&2; exit 65; }
mkdir -p "$dst"
for f in sweep.json selection.json summary.md summary.csv; do
    if [ -f "$src/$f" ]; then cp "$src/$f" "$dst/$f"; fi
done
for d in configs logs; do
    if [ -d "$src/$d" ]; then mkdir -p "$dst/$d" && cp -R "$src/$d"/. "$dst/$d"/; fi
done
kept=0
for run in "$src"/*/; do
    run=${run%/}; name=$(basename "$run")
    [ -f "$run/summary.json" ] || continue
    mkdir -p "$dst/$name"
    tar -C "$run" --exclude '*.safetensors' --exclude initial_R.npy -cf - . | tar -C "$dst/$name" -xf -
    kept=$((kept + 1))
done
echo "kept $kept finished runs of $src in $dst"
