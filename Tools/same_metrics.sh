#!/usr/bin/env bash
# Runs the same short trainings with two moduli binaries and compares their metrics.jsonl byte for
# byte, clock readings removed (wallSeconds and the kernel timings of --recurrent-kernels auto).
# For refactors that must not change a result. Usage:
#   Tools/same_metrics.sh OLD_MODULI NEW_MODULI OUT_DIR [--quick]
# --quick skips the adding problem at its defaults (about 2 minutes per binary). Exit status 1 when
# any case differs or fails.
set -uo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 OLD_MODULI NEW_MODULI OUT_DIR [--quick]" >&2; exit 64; fi
old=$1 new=$2 out=$3 quick=${4:-}
for b in "$old" "$new"; do [ -x "$b" ] || { echo "$0: $b is not an executable moduli binary" >&2; exit 66; }; done
mkdir -p "$out" || exit 73
cases=(
    "adding-lstm-sgd|adding --cell lstm --optimizer sgd --epochs 3 --batches-per-epoch 40 --threads 1"
    "adding-gru|adding --cell gru --epochs 3 --batches-per-epoch 40 --threads 1"
    "adding-elimination|adding --eliminate-tolerance 0.3 --epochs 4 --batches-per-epoch 60 --threads 1"
    "adding-envelope|adding --group-envelope-lambda 0.01 --group-envelope-units 40 --epochs 4 --batches-per-epoch 60 --threads 1"
    "navigation-pruned|navigation --preset small --epochs 4 --batches-per-epoch 30 --threads 1 --recurrent-kernels sparse"
    "navigation-torus|navigation --preset small --moduli torus --epochs 4 --batches-per-epoch 30 --threads 1 --recurrent-kernels sparse"
    "navigation-learned|navigation --preset small --moduli torus --learn-embedding --epochs 3 --batches-per-epoch 30 --threads 1 --recurrent-kernels sparse"
    "language-lstm|language --preset small --cell lstm --epochs 2 --batches-per-epoch 15 --threads 1 --recurrent-kernels sparse"
)
[ "$quick" = --quick ] || cases+=("adding-default|adding")
strip() { sed -E 's/,?"(wallSeconds|denseMilliseconds|sparseMilliseconds)":[0-9.e+-]+//g' "$1"; }
status=0
for c in "${cases[@]}"; do
    name=${c%%|*} args=${c#*|}
    for side in old new; do
        binary=$old; [ $side = new ] && binary=$new
        # shellcheck disable=SC2086  # the arguments are words
        if ! "$binary" train $args --out "$out/$side-$name" --overwrite --quiet > "$out/$side-$name.log" 2>&1; then
            echo "$name: the $side binary failed (see $out/$side-$name.log)"; status=1; continue 2
        fi
    done
    if cmp -s <(strip "$out/old-$name/metrics.jsonl") <(strip "$out/new-$name/metrics.jsonl"); then
        echo "$name: identical ($(wc -l < "$out/new-$name/metrics.jsonl") lines)"
    else
        echo "$name: DIFFERS"; status=1
    fi
done
exit $status
