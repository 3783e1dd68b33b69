#!/bin/bash
# Alternates `moduli bench train` commands (different binaries, environments or options) round
# after round, so that a drifting machine slows them alike, and prints each one's fastest and
# median step over the rounds (ms, the median of each run's own timed steps).
#
# Usage: Tools/bench_ab.sh ROUNDS LABEL::BINARY::ENV::ARGS ...
#   LABEL   a name for the line
#   BINARY  a moduli binary (e.g. .build/release/moduli, or a build of an earlier commit)
#   ENV     VAR=value pairs for the command (or "-" for none)
#   ARGS    the arguments after `moduli bench train`
# Example (the dense step at 1 and 2 threads):
#   A="--steps 5 --warmup 2 --pruned 0.9 navigation --preset paper --hidden 1024 --recurrent-kernels dense"
#   Tools/bench_ab.sh 3 "t1::.build/release/moduli::-::$A --threads 1" "t2::.build/release/moduli::-::$A --threads 2"
set -euo pipefail
rounds=$1
shift
for _ in $(seq "$rounds"); do
  for spec in "$@"; do
    label=${spec%%::*}; rest=${spec#*::}
    binary=${rest%%::*}; rest=${rest#*::}
    vars=${rest%%::*}; args=${rest#*::}
    [ "$vars" = "-" ] && vars=""
    # shellcheck disable=SC2086
    ms=$(env $vars "$binary" bench train $args 2>/dev/null | sed -n 's/.*"medianMs":\([0-9.]*\).*/\1/p')
    echo "$label ${ms:-nan}"
  done
done | sort -k1,1 -k2g | awk '
  { n[$1]++; v[$1, n[$1]] = $2; order[$1] = order[$1] " " sprintf("%.1f", $2) }
  END { for (k in n) printf "%-24s fastest %9.1f  median %9.1f  [%s ]\n", k, v[k, 1], v[k, int((n[k] + 1) / 2)], order[k] }'
