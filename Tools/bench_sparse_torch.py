#!/usr/bin/env python3
"""PyTorch's sparse CSR product on the weight `moduli bench sparse --pytorch PYTHON` times.

Reads W (H x H float32 .npy, zeros pruned), builds torch.sparse_csr_tensor from its nonzeros and
times W @ X with X dense H x B (B = 1: a matrix-vector product) on the given number of threads:
median milliseconds of --repeats samples after a warm-up, each sample about 20 ms of calls,
time.perf_counter (monotonic). Prints the milliseconds as the last line.
"""
import argparse
import statistics
import time

import numpy as np
import torch


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--weight", required=True, help="H x H float32 .npy (zeros are pruned)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    w = torch.from_numpy(np.load(args.weight).astype(np.float32))
    a = w.to_sparse_csr()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(w.shape[1], args.batch, generator=g)

    def call():
        return a @ x

    with torch.no_grad():
        call()
        t0 = time.perf_counter()
        call()
        once = max(time.perf_counter() - t0, 1e-9)
        inner = max(1, int(0.02 / once))
        samples = []
        for _ in range(max(1, args.repeats)):
            t0 = time.perf_counter()
            for _ in range(inner):
                call()
            samples.append((time.perf_counter() - t0) / inner)
    print(f"{1000 * statistics.median(samples):.6f}")


if __name__ == "__main__":
    main()
