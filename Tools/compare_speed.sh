#!/usr/bin/env bash
# Times two moduli binaries side by side, alternating old and new REPS times per configuration, at
# 1 thread, and prints a Markdown table: each side's lowest and median `moduli bench train` median
# (ms per step) and new / old. With OLD_BENCH and NEW_BENCH (two moduli-bench binaries, built from
# the two trees' Benchmarks/), the adding and nav256 workloads of moduli-bench too (and nav1024 in
# the first three alternations). Run it on an otherwise idle machine. Usage:
#   [OLD_BENCH=... NEW_BENCH=...] Tools/compare_speed.sh OLD_MODULI NEW_MODULI [REPS]
set -uo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 OLD_MODULI NEW_MODULI [REPS]" >&2; exit 64; fi
old=$1 new=$2 reps=${3:-6}
for b in "$old" "$new"; do [ -x "$b" ] || { echo "$0: $b is not an executable moduli binary" >&2; exit 66; }; done
case $reps in '' | *[!0-9]*) echo "$0: REPS must be a positive integer, not $reps" >&2; exit 64 ;; esac
log=$(mktemp) || exit 73
trap 'rm -f "$log"' EXIT
for r in $(seq "$reps"); do
    for side in old new; do
        bench=${OLD_BENCH:-}; [ $side = new ] && bench=${NEW_BENCH:-}
        [ -n "$bench" ] || continue
        "$bench" --threads 1 --workloads adding,nav256 --rounds 1 --no-pytorch 2>&1 | grep -E "^\| (adding|nav256) " | sed "s/^/BENCH $side /" >> "$log"
        if [ "$r" -le 3 ]; then
            "$bench" --threads 1 --workloads nav1024 --rounds 1 --no-pytorch 2>&1 | grep -E "^\| nav1024 " | sed "s/^/BENCH $side /" >> "$log"
        fi
    done
done
cases=(
    "adding|--steps 100 --warmup 10 adding --threads 1"
    "adding-pruned0.9|--steps 100 --warmup 10 --pruned 0.9 adding --threads 1"
    "nav-small|--steps 20 --warmup 3 navigation --preset small --threads 1"
    "nav-small-pruned0.9|--steps 20 --warmup 3 --pruned 0.9 navigation --preset small --threads 1"
    "lang-lstm|--steps 8 --warmup 2 language --preset small --cell lstm --threads 1"
    "lang-lstm-pruned0.9|--steps 8 --warmup 2 --pruned 0.9 language --preset small --cell lstm --threads 1"
)
for c in "${cases[@]}"; do
    name=${c%%|*} args=${c#*|}
    for r in $(seq "$reps"); do
        for side in old new; do
            binary=$old; [ $side = new ] && binary=$new
            # shellcheck disable=SC2086  # the arguments are words
            line=$("$binary" bench train $args 2>&1 | grep '^BENCH ' | tail -1)
            median=$(sed -nE 's/.*"medianMs":([0-9.eE+-]+).*/\1/p' <<< "$line")
            [ -n "$median" ] || { echo "$0: $side binary: no BENCH line for $name (run: $binary bench train $args)" >&2; exit 1; }
            echo "TRAIN $side $name $median" >> "$log"
        done
    done
done
python3 - "$log" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == 'TRAIN':
        d[(f[2], f[1])].append(float(f[3]))
    elif f[0] == 'BENCH':
        cells = [c.strip() for c in line.split('|')]
        d[('bench ' + cells[1], f[1])].append(float(cells[3].split()[0]))
print("| configuration | old min | new min | new/old (min) | old median | new median | new/old (median) | n |")
print("|---|---|---|---|---|---|---|---|")
for n in sorted({k[0] for k in d}, key=lambda n: (not n.startswith('bench'), n)):
    o, w = d[(n, 'old')], d[(n, 'new')]
    print(f"| {n} | {min(o):.3f} | {min(w):.3f} | {min(w)/min(o):.3f} | {statistics.median(o):.3f} | "
          f"{statistics.median(w):.3f} | {statistics.median(w)/statistics.median(o):.3f} | {len(o)} |")
PY
