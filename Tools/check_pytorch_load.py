"""Load an adding-problem run's model.safetensors into plain PyTorch modules and evaluate it.

Usage: python Tools/check_pytorch_load.py RUN_DIR [--samples 2000]

Reads the safetensors file with the standard library (no safetensors package needed), loads it
into torch.nn.RNN + torch.nn.Linear with strict=True (every name and shape must match), and
prints the MSE on freshly drawn adding-problem sequences next to the run's own summary.json.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "F64": np.float64}[entry["dtype"]]
        begin, end = entry["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(body[begin:end], dtype=dtype).reshape(entry["shape"]).copy())
    return tensors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    config = json.load(open(f"{args.run}/config.json"))
    summary = json.load(open(f"{args.run}/summary.json"))
    state = read_safetensors(f"{args.run}/model.safetensors")
    state = {k: v for k, v in state.items() if not k.startswith("moduli.")}  # learned positions are not weights
    cell = config["cell"]
    nonlinearity = {"rnn_relu": "relu", "rnn_tanh": "tanh"}[cell]
    hidden, layers, bias = config["hiddenSize"], config["layers"], config["bias"]

    class Adding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(2, hidden, layers, nonlinearity=nonlinearity, bias=bias)
            self.fc = torch.nn.Linear(hidden, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[-1])

    model = Adding()
    model.load_state_dict(state, strict=True)
    rng = np.random.default_rng(0)
    t, n = config["length"], args.samples
    values = rng.random((t, n))
    markers = np.zeros((t, n))
    for b in range(n):
        i, j = rng.choice(t, size=2, replace=False)
        markers[i, b] = markers[j, b] = 1
    x = torch.tensor(np.stack([values, markers], axis=-1), dtype=torch.float32)
    y = torch.tensor((values * markers).sum(axis=0), dtype=torch.float32)
    with torch.no_grad():
        mse = torch.mean((model(x).squeeze(1) - y) ** 2).item()
    zeros = sum(int((v == 0).sum()) for k, v in state.items() if "weight" in k)
    total = sum(v.numel() for k, v in state.items() if "weight" in k)
    print(f"loaded {len(state)} tensors strictly; weight zeros {zeros}/{total} ({100 * zeros / total:.1f}%)")
    print(f"PyTorch MSE on {n} fresh sequences: {mse:.6f}; the run's summary.json test MSE: {summary['testMSE']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
