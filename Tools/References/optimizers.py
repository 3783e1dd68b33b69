"""PyTorch float64 reference values for the optimizers (SGD, Adam, AdamW) and clip_grad_norm_.

Run by hand (the package never depends on PyTorch):
    /opt/torchenv/bin/python Tools/References/optimizers.py
writes Tests/NNTests/References/optimizers.json, read by Tests/NNTests/OptimizerTests.swift.

Two parameter tensors (shapes 2 x 3 and 4, flattened in that order, as in the Swift store) start
from fixed values; every case runs STEPS steps, each with a fixed gradient (written into the JSON),
and records every parameter after every step. The clip cases record the total norm returned by
clip_grad_norm_ and the gradients after it.
"""
import json
import os

import numpy as np
import torch

SHAPES = [[2, 3], [4]]
STEPS = 5
SEED = 2024

CASES = [
    # (name, optimizer class name, keyword arguments)
    ("sgd", "SGD", dict(lr=0.1)),
    ("sgd_weight_decay", "SGD", dict(lr=0.1, weight_decay=0.05)),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd_momentum_dampening_weight_decay", "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("sgd_nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.02)),
    ("adam", "Adam", dict(lr=0.1)),
    ("adam_weight_decay", "Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("adamw", "AdamW", dict(lr=0.1)),  # PyTorch's default weight decay 0.01
    ("adamw_weight_decay", "AdamW", dict(lr=0.05, betas=(0.85, 0.995), weight_decay=0.3)),
]

CLIP_CASES = [("clip_active", 1.0), ("clip_inactive", 100.0)]


def tensors(flat):
    out, k = [], 0
    for shape in SHAPES:
        n = int(np.prod(shape))
        out.append(torch.tensor(flat[k:k + n], dtype=torch.float64).reshape(shape))
        k += n
    return out


def flat(ts):
    return [float(v) for t in ts for v in t.detach().reshape(-1).tolist()]


def main():
    rng = np.random.default_rng(SEED)
    count = sum(int(np.prod(s)) for s in SHAPES)
    initial = rng.uniform(-1, 1, count).tolist()
    gradients = [rng.normal(0, 1, count).tolist() for _ in range(STEPS)]

    cases = []
    for name, kind, kwargs in CASES:
        params = [t.clone().requires_grad_(True) for t in tensors(initial)]
        opt = getattr(torch.optim, kind)(params, **kwargs)
        steps = []
        for g in gradients:
            for p, gt in zip(params, tensors(g)):
                p.grad = gt.clone()
            opt.step()
            steps.append(flat(params))
        options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in opt.defaults.items()
                   if k in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps")}
        cases.append(dict(name=name, optimizer=kind, options=options, parameters=steps))

    clips = []
    grads = [2.0 * v for v in gradients[0]]
    for name, max_norm in CLIP_CASES:
        params = [t.clone().requires_grad_(True) for t in tensors(initial)]
        for p, gt in zip(params, tensors(grads)):
            p.grad = gt.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        clips.append(dict(name=name, maxNorm=max_norm, gradients=grads, totalNorm=float(norm),
                          clipped=flat([p.grad for p in params])))

    out = dict(generator="Tools/References/optimizers.py", torch=torch.__version__, dtype="float64",
               seed=SEED, shapes=SHAPES, initial=initial, gradients=gradients, cases=cases, clip=clips)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "NNTests", "References", "optimizers.json")
    with open(os.path.normpath(path), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
