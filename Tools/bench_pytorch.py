#!/usr/bin/env python3
# PyTorch peer for Benchmarks/ (moduli-bench): the same training steps, shapes and thread count on
# the CPU in float32, timed the same way (warm-up, then the median of N steps). Run by hand or by
# `moduli-bench --pytorch PYTHON`; the project itself never imports PyTorch. With --device cuda the
# same steps run on the GPU (each timed step ends with torch.cuda.synchronize()), the peer of
# `moduli bench train --device cuda` in Tools/gpu_checks.sh.
#
#   /opt/torchenv/bin/python Tools/bench_pytorch.py --threads 1 --workload all --json
#   python3 Tools/bench_pytorch.py --device cuda --workload nav4096
#
# Workloads (see BENCHMARKS.md):
#   adding      Elman ReLU with bias, I 2, H 128, B 32, T 50, Linear(128 -> 1) on the last state, MSE,
#               clip_grad_norm_ 0.5, Adam lr 1e-4.
#   nav256/1024 h0 = Linear(512 -> H, no bias)(place code); ReLU Elman without bias, I 2, B 200, T 50;
#               Linear(H -> 512, no bias) on every step; soft-target cross-entropy; AdamW lr 1e-4, wd 0.01.
#   peak        torch.mm of two N x N float32 matrices (N = 2048 by default).
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


DEVICE = "cpu"


def synchronize():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(step, warmup, reps):
    """Runs `step` warmup times, then returns the per-call seconds of `reps` more calls."""
    for _ in range(warmup):
        step()
    synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        synchronize()
        times.append(time.perf_counter() - t0)
    return times


def adding_step():
    torch.manual_seed(0)
    T, B, H = 50, 32, 128
    rnn = nn.RNN(2, H, nonlinearity="relu", bias=True).to(DEVICE)
    fc = nn.Linear(H, 1).to(DEVICE)
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=1e-4)
    x = torch.rand(T, B, 2)
    x[:, :, 1] = 0
    x[3, :, 1] = 1
    x[30, :, 1] = 1
    y = (x[3, :, 0] + x[30, :, 0]).unsqueeze(1).to(DEVICE)
    x = x.to(DEVICE)

    def step():
        opt.zero_grad()
        out, _ = rnn(x)
        loss = F.mse_loss(fc(out[-1]), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.5)
        opt.step()

    return step, None


def navigation_step(H):
    torch.manual_seed(0)
    T, B, N = 50, 200, 512
    enc = nn.Linear(N, H, bias=False).to(DEVICE)
    rnn = nn.RNN(2, H, nonlinearity="relu", bias=False).to(DEVICE)
    dec = nn.Linear(H, N, bias=False).to(DEVICE)
    params = list(enc.parameters()) + list(rnn.parameters()) + list(dec.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    v = (torch.randn(T, B, 2) * 0.02).to(DEVICE)
    place0 = torch.softmax(torch.randn(B, N), dim=1).to(DEVICE)
    target = torch.softmax(torch.randn(T * B, N), dim=1).to(DEVICE)

    def step():
        opt.zero_grad()
        h0 = enc(place0).unsqueeze(0)
        out, _ = rnn(v, h0)
        logits = dec(out).reshape(T * B, N)
        loss = F.cross_entropy(logits, target)
        loss.backward()
        opt.step()

    flops = flops_navigation(H, T, B, N)
    return step, flops


def flops_navigation(H, T=50, B=200, N=512, I=2):
    """GEMM floating-point operations of one navigation step (2 per multiply-add)."""
    forward = 2 * B * N * H + 2 * T * B * I * H + 2 * T * B * H * H + 2 * T * B * H * N
    # decoder dW and dX, recurrent dh and dW_hh, dW_ih, encoder dW (no dX: the place code is data).
    backward = 4 * T * B * H * N + 4 * T * B * H * H + 2 * T * B * I * H + 2 * B * N * H
    return forward + backward


def peak(n):
    a = torch.randn(n, n, device=DEVICE)
    b = torch.randn(n, n, device=DEVICE)
    c = torch.empty(n, n, device=DEVICE)
    return (lambda: torch.mm(a, b, out=c)), 2 * n ** 3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workload", default="all", help="adding, nav256, nav1024, peak, or all")
    p.add_argument("--reps", type=int, default=0, help="timed repetitions (0: per-workload default)")
    p.add_argument("--warmup", type=int, default=0, help="warm-up calls (0: per-workload default)")
    p.add_argument("--peak-size", type=int, default=2048)
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = p.parse_args()
    global DEVICE
    DEVICE = a.device
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    names = ["adding", "nav256", "nav1024", "peak"] if a.workload == "all" else a.workload.split(",")
    defaults = {"adding": (20, 50), "nav256": (2, 7), "nav1024": (1, 5), "peak": (2, 7)}
    rows = []
    for name in names:
        if name == "adding":
            step, flops = adding_step()
        elif name.startswith("nav"):
            step, flops = navigation_step(int(name[3:]))
        elif name == "peak":
            step, flops = peak(a.peak_size)
        else:
            sys.exit(f"unknown workload {name}")
        warmup, reps = defaults.get(name, (1, 3))
        times = timed(step, a.warmup or warmup, a.reps or reps)
        med = statistics.median(times)
        row = {"impl": "pytorch", "workload": name, "device": DEVICE, "threads": a.threads, "median_ms": med * 1e3,
               "min_ms": min(times) * 1e3, "reps": len(times), "flops": flops,
               "gflops": (flops / med / 1e9) if flops else None, "torch": torch.__version__}
        rows.append(row)
        if a.json:
            print(json.dumps(row), flush=True)
    if not a.json:
        print(f"PyTorch {torch.__version__}, {a.threads} thread(s), {DEVICE}")
        for r in rows:
            g = f"{r['gflops']:.1f} GFLOP/s" if r["gflops"] else ""
            print(f"{r['workload']:>8}  median {r['median_ms']:9.2f} ms  min {r['min_ms']:9.2f} ms  {g}")


if __name__ == "__main__":
    main()
