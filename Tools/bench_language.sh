#!/bin/bash
# Training-step time of the language model: moduli against PyTorch, one after the other on the same
# machine and thread count, for H = E = 200 and 650, tanh RNN and LSTM (dense, no penalty).
#
# Usage: Tools/bench_language.sh [MODULI] [PYTHON]
#   MODULI  the moduli binary (default .build/release/moduli; build it with `make build`)
#   PYTHON  a Python with torch and numpy (default python3)
# Environment: THREADS (default 1), STEPS (timed steps, default 20).
# Prints one BENCH line per side and configuration (mean, median, fastest ms per step).
set -euo pipefail
MODULI=${1:-.build/release/moduli}
PYTHON=${2:-python3}
THREADS=${THREADS:-1}
STEPS=${STEPS:-20}
cd "$(dirname "$0")/.."
for size in 200 650; do
  for cell in rnn_tanh lstm; do
    "$MODULI" bench train --steps "$STEPS" --warmup 3 language --cell "$cell" --hidden "$size" --embedding-size "$size" \
      --target-sparsity 0 --threads "$THREADS"
    "$PYTHON" Tools/language_model_torch.py --bench --bench-steps "$STEPS" --cell "$cell" --nhid "$size" --emsize "$size" \
      --threads "$THREADS" | grep '^BENCH'
  done
done
