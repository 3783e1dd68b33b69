#!/usr/bin/env bash
# Runs moduli against damaged files, hostile links, resource limits and signals, and prints one
# Markdown row per probe: the exit status, the first line the tool printed, and what a check of
# the file system found afterwards. A healthy build answers every probe with an exit status of
# 1 to 127 and a message (or works), leaves nothing behind and writes nothing through a link.
#
#   Tools/robustness_probes.sh [MODULI_BINARY] [SCRATCH_DIR]
#
# MODULI_BINARY defaults to .build/debug/moduli, SCRATCH_DIR to a new temporary directory (removed
# at the end). Needs python3 (for byte edits of binary files) and about a minute.
set -u
B=$(realpath "${1:-.build/debug/moduli}")
S=${2:-$(mktemp -d)}
mkdir -p "$S"
S=$(realpath "$S")
[ -x "$B" ] || { echo "no moduli binary at $B: build it (swift build) or pass its path" >&2; exit 2; }
TINY=(--epochs 2 --batches-per-epoch 5 --hidden 8 --length 5 --test-size 10 --quiet)

echo "| probe | exit | first line | afterwards |"
echo "|---|---|---|---|"

# row NAME CHECK -- COMMAND...: runs COMMAND (stdin closed, 30 s at most), then the shell code
# CHECK (what it prints goes in the last column), and prints the row.
row() {
    local name=$1 check=$2; shift 3
    local out rc
    out=$(timeout 30 "$@" </dev/null 2>&1); rc=$?
    local first
    first=$(printf '%s\n' "$out" | grep -v '^Resuming\|^\s*$' | head -1 | cut -c1-150 | sed 's/|/\\|/g')
    [ "$rc" -gt 128 ] && first="killed by signal $((rc - 128)) ${first}"
    local note=""
    [ -n "$check" ] && note=$(eval "$check")
    echo "| $name | $rc | $first | $note |"
}
# `bash -c "ulimit ...; $UNDER" "$B" ARGS...` runs moduli ARGS under a resource limit.
UNDER='exec "$0" "$@"'
# A finished tiny adding run with a torus penalty at $1.
tiny_run() { "$B" train adding "${TINY[@]}" --moduli torus --target-sparsity 0.5 --out "$1" >/dev/null 2>&1; }
# Replaces the bytes OLD by NEW (same length) at their first place in FILE.
patch() { python3 - "$1" "$2" "$3" <<'EOF'
import sys
p, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
b = open(p, 'rb').read()
i = b.find(old)
assert i >= 0 and len(old) == len(new), (old, new)
open(p, 'wb').write(b[:i] + new + b[i + len(old):])
EOF
}
# Flips the lowest bit of the last byte of FILE (a weight in a safetensors file).
flip_last() { python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-1]^=1; open(p,'wb').write(b)" "$1"; }
same() { cmp -s "$1" "$2" && echo "unchanged" || echo "CHANGED"; }
left() { [ -e "$1" ] && echo "LEFT $(basename "$1")" || echo "nothing left"; }

# --- crashes ---
row "geometry --neurons 32768 under ulimit -v 6 GB" "" -- bash -c "ulimit -v 6291456; $UNDER" "$B" geometry --neurons 32768
row "adding --hidden 8192 under ulimit -v 1.5 GB" 'left "$S/h8192"' -- bash -c "ulimit -v 1572864; $UNDER" "$B" train adding --hidden 8192 --epochs 2 --batches-per-epoch 1 --quiet --out "$S/h8192"
rm -rf "$S/h8192"
mkdir -p "$S/corpus"
python3 -c "
import sys
with open(sys.argv[1] + '/train.txt', 'w') as f:
    for i in range(1000000): f.write('w%d%s' % (i, '\n' if i % 20 == 19 else ' '))
for n in ('valid.txt', 'test.txt'): open(sys.argv[1] + '/' + n, 'w').write('w1 w2 w3 w4 w5\n' * 200)
" "$S/corpus"
row "corpus of 1,000,000 words under ulimit -v 8 GB" 'left "$S/big-corpus"' -- bash -c "ulimit -v 8388608; $UNDER" "$B" train language --data "$S/corpus" --hidden 100 --embedding-size 100 --epochs 2 --quiet --out "$S/big-corpus"
rm -rf "$S/big-corpus" "$S/corpus"

tiny_run "$S/run"
cp -r "$S/run" "$S/npy"
python3 - "$S/npy/positions.npy" <<'EOF'
import sys
h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"
h += b' ' * (63 - (10 + len(h)) % 64) + b'\n'
open(sys.argv[1], 'wb').write(b'\x93NUMPY\x01\x00' + len(h).to_bytes(2, 'little') + h + b'\0' * 64)
EOF
row "evaluate --reorder, positions.npy of shape (2^62, 4)" "" -- "$B" evaluate "$S/npy" --reorder
row "export --reorder, positions.npy of shape (2^62, 4)" 'left "$S/npy.safetensors"' -- "$B" export "$S/npy" --reorder --out "$S/npy.safetensors"
row "report, positions.npy of shape (2^62, 4)" "" -- "$B" report "$S/npy" --out "$S/npy-report"
rm -rf "$S/npy" "$S/npy-report" "$S/npy.safetensors"

for k in 0 1 2; do
    cp -r "$S/run" "$S/eq-s$k"
    python3 - "$S/eq-s$k/summary.json" <<'EOF'
import json, sys
p = sys.argv[1]; s = json.load(open(p))
s['testMSE'] = s['main']['testMSE'] = 0.7; s['baselines'] = {}
json.dump(s, open(p, 'w'))
EOF
done
row "report on three runs of equal value 0.7" "" -- "$B" report "$S/eq-s0" "$S/eq-s1" "$S/eq-s2" --out "$S/eq-report"
rm -rf "$S"/eq-*

cp -r "$S/run" "$S/huge"
truncate -s 3G "$S/huge/checkpoint.safetensors"
row "--resume with a 3 GB checkpoint under ulimit -v 2 GB" "" -- bash -c "ulimit -v 2097152; $UNDER" "$B" train adding --resume --out "$S/huge"
rm -rf "$S/huge"
row "train under ulimit -f 2 (2 KB files)" 'ls -a "$S/xfsz" 2>/dev/null | tr "\n" " "' -- bash -c "ulimit -f 2; $UNDER" "$B" train adding "${TINY[@]}" --out "$S/xfsz"
rm -rf "$S/xfsz"

# --- silent corruptions ---
cp -r "$S/run" "$S/lr"
patch "$S/lr/checkpoint.safetensors" 'learningRate\" : 0.0001' 'learningRate\" : 0.0002'
row "--resume after a 1-byte edit of the checkpoint's learning rate" "" -- "$B" train adding --resume --out "$S/lr"
rm -rf "$S/lr"
cp -r "$S/run" "$S/flip"
flip_last "$S/flip/model.safetensors"
row "evaluate, one bit of a weight flipped in model.safetensors" "" -- "$B" evaluate "$S/flip"
row "export, one bit of a weight flipped in model.safetensors" 'left "$S/flip.safetensors"' -- "$B" export "$S/flip" --out "$S/flip.safetensors"
rm -rf "$S/flip" "$S/flip.safetensors"
cp -r "$S/run" "$S/dtype"
patch "$S/dtype/model.safetensors" '"F32"' '"I32"'
row "evaluate, dtype F32 -> I32 in model.safetensors" "" -- "$B" evaluate "$S/dtype"
rm -rf "$S/dtype"

mkdir -p "$S/text"
python3 -c "
import sys
words = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta']
lines = [' '.join(words[(i * 3 + j) % 8] for j in range(7)) for i in range(60)]
for n in ('train.txt', 'valid.txt', 'test.txt'): open(sys.argv[1] + '/' + n, 'w').write('\n'.join(lines) + '\n')
" "$S/text"
"$B" train language --data "$S/text" --embedding-size 6 --hidden 8 --batch-size 4 --evaluation-batch-size 3 --bptt 5 --epochs 2 --quiet --out "$S/lang" >/dev/null 2>&1
python3 -c "
import sys
p = sys.argv[1] + '/train.txt'; t = open(p).read().split('\n')
open(p, 'w').write('\n'.join(' '.join(reversed(l.split())) for l in t))
" "$S/text"
mkdir -p "$S/badtext"
printf 'a b\n\xff\xfe c\n' > "$S/badtext/train.txt"; echo "a b" > "$S/badtext/valid.txt"; echo "a b" > "$S/badtext/test.txt"
sed "s|$S/text|$S/badtext|" "$S/lang/config.json" > "$S/badtext.json"
row "train --config of a language run whose corpus is not UTF-8" 'left "$S/badtext-run"' -- "$B" train --config "$S/badtext.json" --quiet --out "$S/badtext-run"
rm -rf "$S/badtext-run" "$S/badtext"
row "evaluate a language run after its corpus changed word order" "" -- "$B" evaluate "$S/lang"
row "generate from a language run after its corpus changed word order" "" -- "$B" generate "$S/lang" --words 5
rm -rf "$S/lang" "$S/text"

cp "$S/run/config.json" "$S/config.json"
row "train --config FILE adding" 'grep -o "\"hiddenSize\" : [0-9]*" "$S/cfg-adding/config.json" 2>/dev/null || echo "no run"' -- "$B" train --config "$S/config.json" adding --quiet --out "$S/cfg-adding"
rm -rf "$S/cfg-adding"
python3 -c "
import sys
t = open(sys.argv[1]).read(); i = t.index('{') + 1
open(sys.argv[2], 'w').write(t[:i] + '\n  \"task\" : \"adding\",' + t[i:])" "$S/run/config.json" "$S/dup.json"
row "config file with a duplicate key" 'left "$S/dup-run"' -- "$B" train --config "$S/dup.json" --quiet --out "$S/dup-run"
rm -rf "$S/dup-run"
row "report with the same run twice" "" -- "$B" report "$S/run" "$S/run" --out "$S/twice-report"
rm -rf "$S/twice-report"
cp -r "$S/run" "$S/str-s0"; cp -r "$S/run" "$S/str-s1"
python3 - "$S/str-s1/summary.json" <<'EOF'
import json, sys
p = sys.argv[1]; s = json.load(open(p))
s['testMSE'] = 'oops'
json.dump(s, open(p, 'w'))
EOF
row "compare, a string in a summary metric" "" -- "$B" compare "$S/str-s0" "$S/str-s1"
row "report, a string in a summary metric" "" -- "$B" report "$S/str-s0" "$S/str-s1" --out "$S/str-report"
rm -rf "$S"/str-*
row "geometry with one path for --matrix and --positions" "" -- "$B" geometry --neurons 16 --matrix "$S/same.npy" --positions "$S/same.npy"
rm -f "$S/same.npy"
row "--target-sparsity 0.999999" "" -- "$B" train adding "${TINY[@]}" --target-sparsity 0.999999 --out "$S/ts"
rm -rf "$S/ts"
row "--warmup-steps without --lr-schedule warmup" "" -- "$B" train adding "${TINY[@]}" --warmup-steps 5 --out "$S/w"
rm -rf "$S/w"
row "--lr-factor without --lr-schedule plateau" "" -- "$B" train adding "${TINY[@]}" --lr-factor 0.5 --out "$S/w"
rm -rf "$S/w"
row "--schedule cubic without a pruning target" "" -- "$B" train adding "${TINY[@]}" --schedule cubic --out "$S/w"
rm -rf "$S/w"
mkdir -p "$S/same-second"
failed=$(cd "$S/same-second" && { for k in 1 2 3; do ( "$B" train adding "${TINY[@]}" >/dev/null 2>&1 || echo x ) & done; wait; } | grep -c x)
echo "| three runs without --out at once | | | $(find "$S/same-second" -name config.json | wc -l) run directories, $failed of 3 runs failed |"
rm -rf "$S/same-second"

# --- unclear errors ---
sed 's/"seed" : [0-9]*/"seed" : 1e400/' "$S/run/config.json" > "$S/big.json"
row "config with the number 1e400" "" -- "$B" train --config "$S/big.json" --quiet --out "$S/big-run"
rm -rf "$S/big-run"
head -c 200 "$S/run/config.json" > "$S/cut.json"
row "malformed config JSON (cut short)" "" -- "$B" train --config "$S/cut.json" --quiet --out "$S/cut-run"
rm -rf "$S/cut-run"
"$B" train navigation --epochs 2 --batches-per-epoch 2 --hidden 8 --batch-size 4 --length 4 --quiet --out "$S/nav" >/dev/null 2>&1
row "train adding --resume on a navigation run" "" -- "$B" train adding --resume --out "$S/nav"
rm -rf "$S/nav"
"$B" train adding --hidden 8 --length 5 --epochs 2 --batches-per-epoch 1000000 --quiet --out "$S/early" >/dev/null 2>&1 &
sleep 3; kill -9 $! 2>/dev/null; wait $! 2>/dev/null
row "--resume of a run killed before its first checkpoint" "" -- "$B" train adding --resume --out "$S/early"
row "a new run into a run killed before its first checkpoint" "" -- "$B" train adding "${TINY[@]}" --out "$S/early"
rm -rf "$S/early"
cp -r "$S/run" "$S/dec"
python3 - "$S/dec/summary.json" <<'EOF'
import json, sys
p = sys.argv[1]; s = json.load(open(p)); s['steps'] = 'many'
json.dump(s, open(p, 'w'))
EOF
row "compare, summary.json with a field of the wrong type" "" -- "$B" compare "$S/dec" "$S/run"
row "report, summary.json with a field of the wrong type" "" -- "$B" report "$S/dec" --out "$S/dec-report"
rm -rf "$S/dec" "$S/dec-report"
sed 's/"seed" : \([0-9]*\)/"seed" : "\1"/' "$S/run/config.json" > "$S/type.json"
row "config with a string for the seed" 'left "$S/type-run"' -- "$B" train --config "$S/type.json" --quiet --out "$S/type-run"
rm -rf "$S/type-run"

# --- left behind ---
row "sweep --emit slurm with --time abc" 'left "$S/sw-time"' -- "$B" sweep paper-adding --emit slurm --time abc --out "$S/sw-time"
rm -rf "$S/sw-time"
cat > "$S/spec.json" <<EOF
{"task": "adding", "base": ["--hidden", "8", "--length", "5", "--epochs", "2", "--batches-per-epoch", "200000", "--test-size", "10"],
 "seeds": [0], "configurations": {"a": [], "b": ["--moduli", "torus"]}}
EOF
for sig in TERM KILL; do
    "$B" sweep "$S/spec.json" --jobs 2 --out "$S/sweep-$sig" >/dev/null 2>&1 &
    pid=$!; sleep 4; kill -$sig $pid; wait $pid 2>/dev/null; rc=$?
    sleep 5
    n=$(pgrep -f "$S/sweep-$sig/" | wc -l)
    echo "| sweep killed by SIG$sig | $rc | | $n child runs still going |"
    pkill -f "$S/sweep-$sig/" 2>/dev/null
done

# --- writes through links ---
cp -r "$S/run" "$S/link"
{ cat "$S/link/metrics.jsonl"; echo "precious"; } > "$S/target"; cp "$S/target" "$S/target.orig"
rm "$S/link/metrics.jsonl"; ln -s "$S/target" "$S/link/metrics.jsonl"
row "--resume with metrics.jsonl a link" 'echo "target $(same "$S/target" "$S/target.orig")"' -- "$B" train adding --resume --out "$S/link"
rm -rf "$S/link"
# The links cover the next 5,000 process ids, where the old writer's `.NAME.tmp-PID` name falls.
python3 - "$S" <<'EOF'
import os, sys
s = sys.argv[1]; pid = os.getpid()
for p in range(pid, pid + 5000): os.symlink(s + '/target', '%s/.export.safetensors.tmp-%d' % (s, p))
EOF
row "export with links planted at the temporary names" 'echo "target $(same "$S/target" "$S/target.orig")"' -- "$B" export "$S/run" --out "$S/export.safetensors"
find "$S" -maxdepth 1 -name '.export.safetensors.tmp-*' -delete; rm -f "$S/export.safetensors"
cat > "$S/spec1.json" <<EOF
{"task": "adding", "base": ["--hidden", "8", "--length", "5", "--epochs", "2", "--batches-per-epoch", "2", "--test-size", "10"],
 "seeds": [0], "configurations": {"a": []}}
EOF
"$B" sweep "$S/spec1.json" --out "$S/sweep-link" >/dev/null 2>&1
rm -rf "$S/sweep-link/a-s0" "$S/sweep-link/logs/a-s0.log"
ln -s "$S/target" "$S/sweep-link/logs/a-s0.log"
row "sweep with its run log a link" 'echo "target $(same "$S/target" "$S/target.orig")"' -- "$B" sweep "$S/spec1.json" --out "$S/sweep-link"
rm -rf "$S/sweep-link" "$S"/sweep-*

[ -z "${2:-}" ] && rm -rf "$S"
exit 0
