"""PyTorch float64 reference values for the recurrent layers (nn.RNN tanh/relu, nn.LSTM, nn.GRU).

Run by hand (the package never depends on PyTorch):
    /opt/torchenv/bin/python Tools/References/cells.py
writes Tests/NNTests/References/cells.json, read by Tests/NNTests/LSTMGRUTests.swift.

Every case builds one module in float64 with weights drawn from numpy's default_rng(seed)
(uniform in [-0.6, 0.6), written into the JSON by PyTorch name), runs forward from a non-zero
initial state and backpropagates
    loss = sum(W * output) + sum(V * h_n) (+ sum(U * c_n) for the LSTM).
Layout: time-major, flattened row-major; input (T, B, I), output (T, B, H), h_n/c_n (L, B, H).
"""
import json
import os

import numpy as np
import torch

I, H, B, T = 3, 4, 2, 5

CASES = [
    # (kind, layers, bias, seed); kind is the Swift CellKind raw value.
    ("rnn_tanh", 1, True, 11),
    ("rnn_tanh", 2, False, 12),
    ("rnn_relu", 1, True, 13),
    ("rnn_relu", 2, False, 14),
    ("lstm", 1, True, 21),
    ("lstm", 2, False, 22),
    ("lstm", 2, True, 23),
    ("gru", 1, True, 31),
    ("gru", 2, False, 32),
    ("gru", 2, True, 33),
]


def build(kind, layers, bias):
    if kind == "rnn_tanh":
        return torch.nn.RNN(I, H, num_layers=layers, bias=bias, nonlinearity="tanh")
    if kind == "rnn_relu":
        return torch.nn.RNN(I, H, num_layers=layers, bias=bias, nonlinearity="relu")
    if kind == "lstm":
        return torch.nn.LSTM(I, H, num_layers=layers, bias=bias)
    if kind == "gru":
        return torch.nn.GRU(I, H, num_layers=layers, bias=bias)
    raise ValueError(kind)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run_case(kind, layers, bias, seed):
    rng = np.random.default_rng(seed)
    module = build(kind, layers, bias).double()
    parameters = {}
    with torch.no_grad():
        for name, p in module.named_parameters():
            values = rng.uniform(-0.6, 0.6, size=tuple(p.shape))
            p.copy_(torch.from_numpy(values))
            parameters[name] = {"shape": list(p.shape), "values": flat(p)}

    x = torch.from_numpy(rng.normal(size=(T, B, I))).requires_grad_(True)
    h0 = torch.from_numpy(0.5 * rng.normal(size=(layers, B, H))).requires_grad_(True)
    w = torch.from_numpy(rng.normal(size=(T, B, H)))
    v = torch.from_numpy(rng.normal(size=(layers, B, H)))
    case = {
        "name": f"{kind}_{layers}layer{'' if bias else '_nobias'}",
        "kind": kind, "layers": layers, "bias": bias, "seed": seed,
        "inputSize": I, "hiddenSize": H, "batch": B, "steps": T,
    }
    if kind == "lstm":
        c0 = torch.from_numpy(0.5 * rng.normal(size=(layers, B, H))).requires_grad_(True)
        u = torch.from_numpy(rng.normal(size=(layers, B, H)))
        output, (hn, cn) = module(x, (h0, c0))
        loss = (w * output).sum() + (v * hn).sum() + (u * cn).sum()
    else:
        c0 = u = cn = None
        output, hn = module(x, h0)
        loss = (w * output).sum() + (v * hn).sum()
    loss.backward()

    case.update({
        "input": flat(x), "h0": flat(h0), "lossOutputWeights": flat(w), "lossHiddenWeights": flat(v),
        "parameters": parameters,
        "output": flat(output), "hn": flat(hn), "loss": float(loss.detach()),
        "gradients": {name: flat(p.grad) for name, p in module.named_parameters()},
        "dInput": flat(x.grad), "dH0": flat(h0.grad),
    })
    if kind == "lstm":
        case.update({"c0": flat(c0), "lossCellWeights": flat(u), "cn": flat(cn), "dC0": flat(c0.grad)})
    return case


def main():
    torch.set_num_threads(1)
    cases = [run_case(*c) for c in CASES]
    document = {
        "generator": "Tools/References/cells.py",
        "torch": torch.__version__,
        "dtype": "float64",
        "loss": "sum(W * output) + sum(V * h_n) (+ sum(U * c_n) for LSTM)",
        "cases": cases,
    }
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "Tests", "NNTests", "References", "cells.json")
    with open(path, "w") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
