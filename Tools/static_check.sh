#!/usr/bin/env bash
# Checks the folder `make static` writes (dist/moduli/) the way a machine without a Swift toolchain
# would use it: no Swift or Foundation library is loaded from the system, OpenBLAS comes from the
# folder's lib/, and the binaries run from another working directory with an empty environment:
# a short adding run, a short language run on the built-in corpus (found in the folder's
# moduli_Experiments.resources) and an evaluation of the adding run; and moduli-gpu-check,
# which on a machine without a GPU must stop with its driver message and exit status 2, and
# `moduli train --device cuda`, which there must exit 1 before it writes anything.
# Usage: Tools/static_check.sh [DIST_DIR]     (default dist/moduli). Exit status 1 on any failure.
set -u
cd "$(dirname "$0")/.."
dist=$(cd "${1:-dist/moduli}" 2>/dev/null && pwd) || { echo "static_check.sh: ${1:-dist/moduli} is missing: run \`make static\` first" >&2; exit 1; }
work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
pass() { echo "ok: $*"; }

for b in moduli moduli-gpu-check; do
    [ -x "$dist/$b" ] || { fail "$dist/$b is missing"; continue; }
    deps=$(ldd "$dist/$b")
    if grep -Eq 'libswift|libFoundation|lib_FoundationICU|libdispatch|libBlocksRuntime' <<<"$deps"; then
        fail "$b loads Swift libraries from the system:"; grep -E 'libswift|libFoundation|libdispatch' <<<"$deps"
    else
        pass "$b links no Swift library dynamically"
    fi
    if grep -q 'libopenblas' <<<"$deps" && ! grep -q "libopenblas.* => $dist/lib/" <<<"$deps"; then
        fail "$b does not take OpenBLAS from $dist/lib:"; grep libopenblas <<<"$deps"
    else
        pass "$b takes OpenBLAS from its own lib/"
    fi
done

run() { (cd "$work" && env -i HOME="$work" PATH=/usr/bin:/bin "$@"); }
if run "$dist/moduli" train adding --epochs 1 --batches-per-epoch 5 --threads 1 --out "$work/adding" --quiet > "$work/adding.log" 2>&1 \
    && [ -s "$work/adding/summary.json" ]; then
    pass "moduli train adding from another directory"
else
    fail "moduli train adding:"; cat "$work/adding.log"
fi
if run "$dist/moduli" train language --preset small --epochs 2 --batches-per-epoch 2 --threads 1 --out "$work/language" --quiet \
    > "$work/language.log" 2>&1 && grep -q "built-in WikiText-2" "$work/language/data.json" 2>/dev/null; then
    pass "moduli train language on the built-in corpus"
else
    fail "moduli train language:"; cat "$work/language.log"
fi
if run "$dist/moduli" evaluate "$work/adding" > "$work/evaluate.log" 2>&1; then
    pass "moduli evaluate"
else
    fail "moduli evaluate:"; cat "$work/evaluate.log"
fi
run "$dist/moduli-gpu-check" --out "$work/gpu" --quick > "$work/gpu.log" 2>&1
code=$?
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    [ $code -le 1 ] && pass "moduli-gpu-check ran on the GPU (exit $code)" || { fail "moduli-gpu-check exit $code:"; cat "$work/gpu.log"; }
elif [ $code -eq 2 ] && [ -s "$work/gpu.log" ]; then
    pass "moduli-gpu-check without a GPU: exit 2, \"$(head -c 160 "$work/gpu.log" | tr '\n' ' ')\""
else
    fail "moduli-gpu-check without a GPU exited $code (2 expected):"; cat "$work/gpu.log"
fi
# The trainer on the GPU (a few steps), or its refusal without one: exit 1, nothing written.
run "$dist/moduli" train adding --device cuda --epochs 1 --batches-per-epoch 5 --threads 1 --out "$work/cuda" --quiet \
    > "$work/cuda.log" 2>&1
code=$?
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    [ $code -eq 0 ] && pass "moduli train adding --device cuda on the GPU" || { fail "moduli train --device cuda exit $code:"; cat "$work/cuda.log"; }
elif [ $code -eq 1 ] && grep -q -- "--device" "$work/cuda.log" && [ ! -e "$work/cuda" ]; then
    pass "moduli train --device cuda without a GPU: exit 1, no run directory"
else
    fail "moduli train --device cuda without a GPU exited $code (1 and no run directory expected):"; cat "$work/cuda.log"
fi
# The finished adding run evaluated on the GPU, or the refusal without one (exit 1).
run "$dist/moduli" evaluate "$work/adding" --device cuda > "$work/evaluate-cuda.log" 2>&1
code=$?
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    [ $code -eq 0 ] && pass "moduli evaluate --device cuda on the GPU" || { fail "moduli evaluate --device cuda exit $code:"; cat "$work/evaluate-cuda.log"; }
elif [ $code -eq 1 ] && grep -q -- "--device cpu" "$work/evaluate-cuda.log"; then
    pass "moduli evaluate --device cuda without a GPU: exit 1"
else
    fail "moduli evaluate --device cuda without a GPU exited $code (1 expected):"; cat "$work/evaluate-cuda.log"
fi
exit $status
