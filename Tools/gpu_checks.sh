#!/usr/bin/env bash
# The GPU checks of the CUDA backend (docs/gpu.md), for a machine with an NVIDIA GPU, its driver and
# the CUDA libraries (cuBLAS, NVRTC: a CUDA toolkit or NVIDIA's Python wheels), and no Swift
# toolchain. Builds nothing: it runs the static binary that `make static` made on a build machine
# (dist/moduli/, carried with the working tree), and writes everything into $OUT:
#   machine.txt        nvidia-smi, the driver, the libraries found
#   check.log          the binary's output (quick run, then the paper-preset run)
#   quick/report.*     every operation on CUDA against the CPU backend at small sizes
#   paper/report.*     the same at the navigation paper preset's widths (B 200, H 4096, Np 512), and
#                      cuBLAS GEMM rates (FP32, TF32) at the preset's shapes with the GEMM time per step
#   torch_gemm.txt     PyTorch's torch.matmul at the same shapes on the same GPU (the peer), if python3 has torch
# and with the trainer (dist/moduli/moduli, `--device cuda`):
#   match/             a 200-step navigation run (small preset, learned torus, a pruning event) on the CPU
#                      and on the GPU; match.txt compares their loss lines (relative difference per line)
#   evaluate.txt       `moduli evaluate` of the CPU run's model on the GPU, each metric beside the CPU's;
#                      evaluate-match.txt the largest relative difference
#   bench.txt          `moduli bench train navigation --preset paper --device cuda` (ms per step), beside
#                      PyTorch's same step on the same GPU (Tools/bench_pytorch.py --device cuda, nav4096)
#   paper-epoch/       `moduli train navigation --preset paper --device cuda`, one epoch of 1000 steps
# Usage: OUT=/some/folder Tools/gpu_checks.sh      (OUT defaults to ./gpu-check-out)
# Exit status: the paper run's (0 all within tolerance, 1 some over, 2 no GPU / library / CUDA error);
# 3 when the operations agree but a training check failed.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check-out}"
BIN="${MODULI_GPU_CHECK:-dist/moduli/moduli-gpu-check}"
mkdir -p "$OUT"

{
    echo "== date"; date -u
    echo "== uname"; uname -a
    echo "== nvidia-smi"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1 || echo "nvidia-smi failed"
    echo "== CUDA libraries on this machine"
    ls -l /usr/local/cuda/lib64/libcublas.so* /usr/local/cuda/lib64/libnvrtc.so* 2>&1 | head -20
    for site in /opt/*/.venv/lib/python3*/site-packages /opt/*/lib/python3*/site-packages /usr/local/lib/python3*/dist-packages; do
        ls -d "$site"/nvidia/*/lib 2>/dev/null
    done
    echo "== binary"; ls -l "$BIN" 2>&1; ldd "$BIN" 2>&1
} > "$OUT/machine.txt" 2>&1

if [ ! -x "$BIN" ]; then
    echo "gpu_checks.sh: $BIN is missing: run \`make static\` on a build machine (it writes dist/moduli/) and bring dist/ along" \
        | tee -a "$OUT/machine.txt" >&2
    exit 2
fi

echo "== quick run" > "$OUT/check.log"
"$BIN" --out "$OUT/quick" --quick --repeats 3 >> "$OUT/check.log" 2>&1
echo "quick run exit status $?" >> "$OUT/check.log"
echo "== paper-preset run" >> "$OUT/check.log"
"$BIN" --out "$OUT/paper" --repeats 10 >> "$OUT/check.log" 2>&1
status=$?
echo "paper-preset run exit status $status" >> "$OUT/check.log"

# The trainer on the GPU.
MODULI="${MODULI_BIN:-dist/moduli/moduli}"
train_status=0
if [ -x "$MODULI" ]; then
    # 1. CPU against GPU: the same 200 steps (dense products on both), their loss lines compared.
    args=(train navigation --preset small --epochs 2 --batches-per-epoch 100 --log-every 10 --moduli torus --learn-embedding
          --target-sparsity 0.5 --recurrent-kernels dense --quiet --overwrite)
    mkdir -p "$OUT/match"
    for device in cpu cuda; do
        "$MODULI" "${args[@]}" --device $device --out "$OUT/match/$device" > "$OUT/match/$device.log" 2>&1 \
            || { echo "match run on $device failed (match/$device.log)" >> "$OUT/check.log"; train_status=3; }
    done
    if [ -f "$OUT/match/cpu/metrics.jsonl" ] && [ -f "$OUT/match/cuda/metrics.jsonl" ]; then
        loss() { grep '"kind":"train"' "$1" | sed -E 's/.*"loss":([-0-9.e+]+).*"step":([0-9]+).*/\2 \1/'; }
        paste <(loss "$OUT/match/cpu/metrics.jsonl") <(loss "$OUT/match/cuda/metrics.jsonl") | awk '
            { d = ($2 - $4) / ($2 == 0 ? 1 : $2); if (d < 0) d = -d; if (d > worst) worst = d
              printf "step %5d  cpu %.7f  cuda %.7f  relative %.2e\n", $1, $2, $4, d }
            END { printf "largest relative difference %.2e over %d lines (%s 1e-3)\n", worst, NR, worst <= 1e-3 ? "within" : "OVER";
                  exit worst <= 1e-3 ? 0 : 1 }' > "$OUT/match.txt" || train_status=3
    fi
    # 1b. The CPU run's model evaluated on the GPU: each metric beside summary.json's (the CPU's evaluation).
    if [ -f "$OUT/match/cpu/model.safetensors" ]; then
        "$MODULI" evaluate "$OUT/match/cpu" --device cuda > "$OUT/evaluate.txt" 2>&1 || train_status=3
        awk '/difference/ { v = $2; d = $NF; gsub(/[),]/, "", d); r = d / (v == 0 ? 1 : v); if (r < 0) r = -r; if (r > worst) worst = r; n++ }
             END { printf "largest relative difference %.2e over %d metrics (%s 1e-3)\n", worst, n, (n > 0 && worst <= 1e-3) ? "within" : "OVER";
                   exit (n > 0 && worst <= 1e-3) ? 0 : 1 }' "$OUT/evaluate.txt" > "$OUT/evaluate-match.txt" || train_status=3
    fi
    # 2. The paper preset's step (Ng 4096, B 200, T 50), then PyTorch's on the same GPU.
    "$MODULI" bench train --steps 20 --warmup 3 navigation --preset paper --device cuda > "$OUT/bench.txt" 2>&1 || train_status=3
    if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
        python3 Tools/bench_pytorch.py --device cuda --workload nav4096 --warmup 3 --reps 20 >> "$OUT/bench.txt" 2>&1
    fi
    # 3. One epoch of the paper preset on the GPU (two epochs of 500 steps: the first pruning event included).
    /usr/bin/time -v "$MODULI" train navigation --preset paper --device cuda --epochs 2 --batches-per-epoch 500 --quiet \
        --overwrite --out "$OUT/paper-epoch" > "$OUT/paper-epoch.log" 2>&1 || train_status=3
else
    echo "no $MODULI: the trainer's GPU checks did not run" >> "$OUT/check.log"
fi

# The peer: PyTorch's FP32 (then TF32) matmul at the same shapes, same GPU, same run.
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    python3 - > "$OUT/torch_gemm.txt" 2>&1 <<'PY'
import time, torch
B, T, H, NP = 200, 50, 4096, 512
shapes = [("W_hh step forward  h W_hh^T", B, H, H, "NT", T), ("W_hh step backward dPre W_hh", B, H, H, "NN", T),
          ("W_hh gradient      dPre^T H", H, H, T * B, "TN", 1), ("decoder forward    H W_dec^T", T * B, NP, H, "NT", 1),
          ("decoder backward   dY W_dec", T * B, H, NP, "NN", 1), ("decoder gradient   dY^T H", NP, H, T * B, "TN", 1),
          ("encoder forward    P W_enc^T", B, H, NP, "NT", 1)]
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
for tf32 in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    step_ms = 0.0
    for name, m, n, k, op, per_step in shapes:
        a = torch.rand(k, m, device="cuda") if op[0] == "T" else torch.rand(m, k, device="cuda")
        b = torch.rand(n, k, device="cuda") if op[1] == "T" else torch.rand(k, n, device="cuda")
        f = lambda: (a.t() if op[0] == "T" else a) @ (b.t() if op[1] == "T" else b)
        for _ in range(2): f()
        torch.cuda.synchronize(); t0 = time.perf_counter()
        for _ in range(10): f()
        torch.cuda.synchronize(); ms = (time.perf_counter() - t0) * 1e3 / 10
        step_ms += ms * per_step
        print(f"{name:30s} {op} {m}x{n}x{k}  {'TF32' if tf32 else 'FP32'}  {ms:8.3f} ms  {2*m*n*k/ms/1e9:6.1f} TFLOP/s")
    print(f"GEMM time per step ({'TF32' if tf32 else 'FP32'}): {step_ms:.2f} ms")
PY
else
    echo "python3 with CUDA torch not found: no PyTorch peer" > "$OUT/torch_gemm.txt"
fi
[ "$status" -eq 0 ] && status=$train_status
exit $status
