#!/bin/bash
# The training step and whole runs at 1 and 2 threads (or the counts in THREADS), side by side in one
# run of one binary: the tables of BENCHMARKS.md's "Threads" section.
#
# Usage: Tools/bench_threads.sh [MODULI] [PART...]
#   MODULI  the moduli binary (default .build/release/moduli; build it with `make build`)
#   PART    steps (the pruned navigation step, Ng 1024 and 4096, sparse and dense), auto (what
#           --recurrent-kernels auto picks, beside both), runs (a whole small navigation run and a
#           small language run), compact (a compact dense model against a pruned sparse one of about
#           the same parameter count: the training step and its forward phase, `--profile`),
#           pairs (the 1-thread step and SDDMM alone and as two copies side by side: what the
#           second core gives when both are busy); default: steps, auto and runs.
# Environment: THREADS (default "1 2"), ROUNDS (default 3: the step rows are timed ROUNDS times,
# thread counts interleaved, and the median of the rounds' medians is shown), OUT (where the runs
# go; default a temporary directory, removed at the end).
# The machine should be otherwise idle: a second busy process on a 2-core machine halves the
# 2-thread figures.
set -euo pipefail
cd "$(dirname "$0")/.."
MODULI=${1:-.build/release/moduli}
shift || true
PARTS=${*:-steps auto runs}
THREADS=${THREADS:-1 2}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$(mktemp -d)}
[ -z "${KEEP_OUT:-}" ] && trap 'rm -rf "$OUT"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# One table row: the median step (ms) at each thread count, then the speed-up of the last over the first.
step_row() { # label, bench options, task options
  local label=$1 bench=$2 task=$3 t r
  declare -A samples
  for r in $(seq "$ROUNDS"); do
    for t in $THREADS; do
      # shellcheck disable=SC2086
      samples[$t]+="$("$MODULI" bench train $bench navigation $task --threads "$t" 2>/dev/null | field medianMs) "
    done
  done
  local line="| $label |" first="" last=""
  for t in $THREADS; do
    last=$(echo "${samples[$t]}" | tr ' ' '\n' | grep . | median)
    [ -z "$first" ] && first=$last
    line+=" $(printf '%.1f' "$last") |"
  done
  echo "$line $(awk -v a="$first" -v b="$last" 'BEGIN {printf "%.2fx", a / b}') |"
}

if [[ " $PARTS " == *" steps "* ]]; then
  echo "| pruned step (--pruned 0.9) | $(for t in $THREADS; do printf '%s thr ms | ' "$t"; done)speed-up |"
  echo "|---|$(for _ in $THREADS; do printf -- '---|'; done)---|"
  for h in 1024 4096; do
    steps="--steps 5 --warmup 2"; [ "$h" = 4096 ] && steps="--steps 2 --warmup 1"
    for k in sparse dense; do
      step_row "Ng $h, $k" "$steps --pruned 0.9" "--preset paper --hidden $h --recurrent-kernels $k"
    done
  done
fi

if [[ " $PARTS " == *" auto "* ]]; then
  echo
  echo "What --recurrent-kernels auto picks per pruned weight (its timings, ms per product), and the step it gives:"
  for h in 1024 4096; do
    steps="--steps 3 --warmup 1"; [ "$h" = 4096 ] && steps="--steps 2 --warmup 1"
    for t in $THREADS; do
      # shellcheck disable=SC2086
      line=$("$MODULI" bench train $steps --pruned 0.9 navigation --preset paper --hidden "$h" --threads "$t" 2>/dev/null)
      echo "Ng $h, $t threads: step $(echo "$line" | field medianMs) ms; $(echo "$line" | sed -n 's/.*"kernelDecisions":\(\[[^]]*\]\).*/\1/p')"
    done
  done
fi

if [[ " $PARTS " == *" compact "* ]]; then
  echo
  echo "| model | threads | median ms per step | forward ms (inference: the forward pass and the loss) |"
  echo "|---|---|---|---|"
  for t in $THREADS; do
    while IFS='|' read -r label args; do
      # shellcheck disable=SC2086
      bench=$("$MODULI" bench train --profile $args --threads "$t" 2>/dev/null | grep '^BENCH')
      printf '| %s | %s | %.3f | %.3f |\n' "$label" "$t" "$(echo "$bench" | field medianMs)" "$(echo "$bench" | field forward)"
    done <<'ROWS'
navigation H 512, 90% pruned, sparse, batch 200|--steps 5 --warmup 2 --pruned 0.9 navigation --preset small --hidden 512 --recurrent-kernels sparse
navigation K 70, dense, batch 200|--steps 5 --warmup 2 navigation --preset small --hidden 70 --target-sparsity 0
navigation H 512, 90% pruned, sparse, batch 1|--steps 20 --warmup 3 --pruned 0.9 navigation --preset small --hidden 512 --batch-size 1 --recurrent-kernels sparse
navigation K 70, dense, batch 1|--steps 20 --warmup 3 navigation --preset small --hidden 70 --batch-size 1 --target-sparsity 0
adding H 128, 95% pruned, sparse, batch 32|--steps 20 --warmup 3 --pruned 0.95 adding --hidden 128 --recurrent-kernels sparse
adding K 27, dense, batch 32|--steps 20 --warmup 3 adding --hidden 27 --target-sparsity 0
adding H 128, 95% pruned, sparse, batch 1|--steps 50 --warmup 5 --pruned 0.95 adding --hidden 128 --batch-size 1 --recurrent-kernels sparse
adding K 27, dense, batch 1|--steps 50 --warmup 5 adding --hidden 27 --batch-size 1 --target-sparsity 0
ROWS
  done
fi

if [[ " $PARTS " == *" pairs "* ]]; then
  # What two busy cores give: the 1-thread Ng 1024 sparse step and the SDDMM alone, then two copies
  # side by side (ROUNDS rounds; ms, the median of each run's timed steps or repeats).
  step="--steps 5 --warmup 2 --pruned 0.9 navigation --preset paper --hidden 1024 --recurrent-kernels sparse --threads 1"
  sddmm="--hidden 1024 --sparsity 90 --batch 200 --layout rows --kernel gradient --threads 1 --repeats 10"
  # shellcheck disable=SC2086
  one_step() { "$MODULI" bench train $step 2>/dev/null | field medianMs; }
  # shellcheck disable=SC2086
  one_sddmm() { "$MODULI" bench sparse $sddmm 2>/dev/null | grep '^| 1024' | awk -F'|' '{gsub(/ /, "", $8); print $8}'; }
  echo
  echo "| round | step alone ms | step pair ms | SDDMM alone ms | SDDMM pair ms |"
  echo "|---|---|---|---|---|"
  for r in $(seq "$ROUNDS"); do
    a=$(one_step); p=$( (one_step > "$OUT/pair1") & one_step; wait; cat "$OUT/pair1")
    b=$(one_sddmm); q=$( (one_sddmm > "$OUT/pair2") & one_sddmm; wait; cat "$OUT/pair2")
    echo "| $r | $a | $(echo $p | tr ' ' '/') | $b | $(echo $q | tr ' ' '/') |"
  done
fi

if [[ " $PARTS " == *" runs "* ]]; then
  echo
  echo "| whole run | $(for t in $THREADS; do printf '%s thr s | ' "$t"; done)model bytes equal across thread counts |"
  echo "|---|$(for _ in $THREADS; do printf -- '---|'; done)---|"
  run_row() { # label, task and options
    local label=$1 line="| $1 |" t start sums=""
    shift
    for t in $THREADS; do
      start=$(date +%s.%N)
      "$MODULI" train "$@" --threads "$t" --quiet --out "$OUT/$label-t$t" >/dev/null
      line+=" $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') |"
      sums+="$(sha256sum "$OUT/$label-t$t/model.safetensors" | cut -c1-64)\n"
    done
    echo "$line $([ "$(printf "$sums" | sort -u | wc -l)" = 1 ] && echo yes || echo no) |"
  }
  run_row navigation-small navigation --preset small --moduli torus
  run_row language-small language --preset small --moduli torus
fi
