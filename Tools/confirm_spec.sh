#!/usr/bin/env bash
# Writes a plain sweep spec that confirms a tuned sweep's selection at other pruning targets: every
# configuration of the tuned spec at the value its selection.json chose for the tuned flag, with
# the value of `--tensor-targets` (or of TARGET_FLAG, e.g. --target-sparsity) in its base flags
# replaced by TARGETS, on the tuned spec's confirmation seeds, with its control.
# The lambda is chosen once (tuned at one sparsity, on its tuning seeds) and reused; the written
# spec carries each chosen value in its configurations' flags. Usage:
#   Tools/confirm_spec.sh TUNED_SPEC SELECTION_JSON TARGETS [TARGET_FLAG] > SPEC
# e.g. Tools/confirm_spec.sh Tools/sweeps/tuned-navigation-256-whh95.json \
#        runs/nav256-whh95/selection.json 0.9,0.9,0.98,0.9 > confirm-whh98.json
#      Tools/confirm_spec.sh Tools/sweeps/tuned-language-lstm-whh90.json \
#        runs/language-whh90/selection.json 0.95 --target-sparsity > confirm-language-whh95.json
# Needs jq.
set -euo pipefail
if [ $# -ne 3 ] && [ $# -ne 4 ]; then
    echo "usage: $0 TUNED_SPEC SELECTION_JSON TARGETS [TARGET_FLAG] > SPEC" >&2; exit 64
fi
command -v jq >/dev/null || { echo "$0 needs jq (Debian: apt-get install jq)." >&2; exit 69; }
spec=$1 selection=$2 targets=$3 flag=${4:---tensor-targets}
jq -e --arg f "$flag" '.base | index($f)' "$spec" >/dev/null ||
    { echo "$spec gives no $flag in its base flags: there is nothing to replace." >&2; exit 65; }
jq --slurpfile s "$selection" --arg t "$targets" --arg f "$flag" '
  ($s[0].flag) as $flag
  | ($s[0].choices | map({(.configuration): .value}) | add) as $chosen
  | {task,
     base: (.base | index($f) as $i | .[:$i + 1] + [$t] + .[$i + 2:]),
     seeds: .confirm.seeds,
     configurations: (.configurations | with_entries(
        if $chosen[.key] then .value += [$flag, $chosen[.key]] else . end))}
  + (if .control then {control} else {} end)' "$spec"
