#!/usr/bin/env bash
# Runs the small-preset navigation comparison (every configuration of docs/method.md section 4 plus the
# real and strength-matched L1 controls, 3 seeds each, pruning to 90%) and prints the table of
# decoding errors, mean (std) over seeds. Usage:
#   Tools/navigation_small_table.sh [RUNS_DIR] [JOBS] [SEEDS] [EXTRA MODULI FLAGS...]
# Runs that already have a summary.json are not run again, so the script can be resumed.
# CONFIGS="torus permuted none" runs only the named configurations; MODULI names the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs/navigation-small}
JOBS=${2:-2}
SEEDS=${3:-"0 1 2"}
shift $(( $# < 3 ? $# : 3 ))
EXTRA=("$@")
MODULI=${MODULI:-.build/release/moduli}
[ -x "$MODULI" ] || { echo "Build first: swift build -c release --product moduli (or set MODULI=path)" >&2; exit 64; }

configs=(
  "torus|--moduli torus --inhibitor inverted-dog"
  "none|"
  "klein|--moduli klein --inhibitor inverted-dog"
  "circle|--moduli circle --inhibitor inverted-dog"
  "sphere|--moduli sphere --inhibitor inverted-dog"
  "torus6|--moduli torus6 --inhibitor inverted-dog"
  "torus-square|--moduli torus --inhibitor square"
  "permuted|--moduli torus --inhibitor inverted-dog --permute"
  "l1|--moduli standard"
  "strength-matched|--moduli torus --inhibitor inverted-dog --strength-matched"
)
mkdir -p "$RUNS"
jobs_file=$(mktemp)
for seed in $SEEDS; do
  for entry in "${configs[@]}"; do
    name=${entry%%|*}; flags=${entry#*|}
    if [ -n "${CONFIGS:-}" ] && [[ " $CONFIGS " != *" $name "* ]]; then continue; fi
    dir="$RUNS/$name-s$seed"
    [ -f "$dir/summary.json" ] && continue
    echo "$MODULI train navigation --preset small --seed $seed --out $dir --overwrite --quiet $flags ${EXTRA[*]:-} > $dir.log 2>&1 || echo FAILED $dir" >> "$jobs_file"
  done
done
xargs -P "$JOBS" -I{} sh -c '{}' < "$jobs_file"
rm -f "$jobs_file"
python3 - "$RUNS" <<'PY'
import json, os, statistics, sys
runs = sys.argv[1]
rows = {}
for d in sorted(os.listdir(runs)):
    s = os.path.join(runs, d, "summary.json")
    if not os.path.isfile(s): continue
    name = d.rsplit("-s", 1)[0]
    j = json.load(open(s))
    rows.setdefault(name, []).append((j["decodingErrorCM"], j.get("decodingErrorCM50", float("nan")), j["main"]["sparsity"]["recurrent"]["sparsity"]))
def fmt(v):
    return f"{statistics.mean(v):.2f} ({statistics.stdev(v):.2f})" if len(v) > 1 else f"{v[0]:.2f}"
print("| configuration | seeds | error at length 20 (cm) | error at length 50 (cm) | W_hh sparsity |")
print("|---|---|---|---|---|")
for name, v in rows.items():
    print(f"| {name} | {len(v)} | {fmt([x[0] for x in v])} | {fmt([x[1] for x in v])} | {100 * statistics.mean([x[2] for x in v]):.1f}% |")
PY
