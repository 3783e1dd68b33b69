"""PyTorch float32 loss trajectories of two short training runs, for the Float training path.

Run by hand (the package never depends on PyTorch):
    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python Tools/References/trajectory.py
writes Tests/NNTests/References/trajectory.json, read by Tests/NNTests/TrajectoryReferenceTests.swift.

Both runs are float32 throughout. The JSON holds the initial weights (PyTorch names and shapes)
and every input and target, so the Swift side needs no random generator that matches this one.
Inputs and targets lie on a grid of 1/256 (exact in float32) and are stored as the integers
k = 256 * value ("grid": 256 in the JSON), which keeps the file small.

adding:     nn.RNN(2, 16, relu, bias) -> fc = Linear(16, 1) on the last state; MSE;
            Adam lr 1e-2; clip_grad_norm_(0.5); T = 6, B = 8; 30 steps, a new batch each step.
navigation: encoder = Linear(12, 16, no bias) maps the soft place-cell vector of the start
            position to h0; nn.RNN(2, 16, relu, no bias) reads velocities; decoder =
            Linear(16, 12, no bias) on every step; loss = mean over time and batch of
            -sum(target * log_softmax(logits)); AdamW lr 1e-2, weight decay 0.01;
            T = 5, B = 70 (above the batch where the Swift Elman step changes layout);
            30 steps over 10 stored batches, taken in order three times.

Per run the JSON records the batches (integer grid numerators), the loss of every step (before
its update), the gradients of the first step (after clipping, for the adding run) and every
parameter after the last step.
Layout: time-major, flattened row-major; inputs (T, B, I), navigation targets (T, B, 12).
"""
import json
import os

import numpy as np
import torch

GRID = 256.0  # inputs and targets are multiples of 1 / GRID


def quantize(a):
    return np.round(np.asarray(a, dtype=np.float64) * GRID) / GRID


def flat(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return [float(v) for v in np.asarray(t, dtype=np.float32).reshape(-1)]


def grid(a):
    """Integer numerators of values on the grid (value = k / GRID)."""
    k = np.asarray(a, dtype=np.float64).reshape(-1) * GRID
    assert np.all(k == np.round(k)), "a value is off the grid"
    return [int(v) for v in k]


def tensor(a):
    return torch.tensor(np.asarray(a, dtype=np.float32))


def named(modules):
    """(state_dict name, parameter) of every parameter, the modules' names as prefixes."""
    out = []
    for prefix, module in modules:
        for name, p in module.named_parameters():
            out.append((f"{prefix}.{name}", p))
    return out


def snapshot(parameters):
    return {name: {"shape": list(p.shape), "values": flat(p)} for name, p in parameters}


def adding_run():
    T, B, H, STEPS = 6, 8, 16, 30
    torch.manual_seed(101)
    rng = np.random.default_rng(102)
    rnn = torch.nn.RNN(2, H, nonlinearity="relu", bias=True)
    fc = torch.nn.Linear(H, 1)
    parameters = named([("rnn", rnn), ("fc", fc)])
    initial = snapshot(parameters)
    opt = torch.optim.Adam([p for _, p in parameters], lr=1e-2)

    inputs, targets = [], []
    for _ in range(STEPS):
        values = quantize(rng.uniform(0, 1, size=(T, B)))
        markers = np.zeros((T, B))
        for b in range(B):
            first = rng.integers(0, T // 2)
            second = rng.integers(T // 2, T)
            markers[first, b] = markers[second, b] = 1
        x = np.stack([values, markers], axis=2)  # (T, B, 2)
        y = (values * markers).sum(axis=0).reshape(B, 1)
        inputs.append(x)
        targets.append(y)

    losses, first_gradients = [], None
    for step in range(STEPS):
        opt.zero_grad()
        output, hn = rnn(tensor(inputs[step]))
        prediction = fc(hn[-1])
        loss = torch.nn.functional.mse_loss(prediction, tensor(targets[step]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in parameters], 0.5)
        if step == 0:
            first_gradients = {name: flat(p.grad) for name, p in parameters}
        opt.step()
        losses.append(float(loss.detach()))

    return {
        "name": "adding", "seeds": {"torch": 101, "numpy": 102},
        "cell": "rnn_relu", "bias": True, "inputSize": 2, "hiddenSize": H, "steps": T, "batch": B,
        "optimizer": {"kind": "Adam", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
        "clip": 0.5, "trainingSteps": STEPS,
        "initial": initial,
        "batches": [{"input": grid(x), "target": grid(y)} for x, y in zip(inputs, targets)],
        "losses": losses, "firstGradients": first_gradients, "final": snapshot(parameters),
    }


def place_cells(positions, centers, sigma):
    """Soft place-cell targets: softmax over cells of -|p - c|^2 / (2 sigma^2), on the grid."""
    d2 = ((positions[..., None, :] - centers) ** 2).sum(axis=-1)
    a = -d2 / (2 * sigma * sigma)
    a = np.exp(a - a.max(axis=-1, keepdims=True))
    return quantize(a / a.sum(axis=-1, keepdims=True))


def navigation_run():
    T, B, H, NP, STEPS, BATCHES = 5, 70, 16, 12, 30, 10
    torch.manual_seed(201)
    rng = np.random.default_rng(202)
    encoder = torch.nn.Linear(NP, H, bias=False)
    rnn = torch.nn.RNN(2, H, nonlinearity="relu", bias=False)
    decoder = torch.nn.Linear(H, NP, bias=False)
    parameters = named([("encoder", encoder), ("rnn", rnn), ("decoder", decoder)])
    initial = snapshot(parameters)
    opt = torch.optim.AdamW([p for _, p in parameters], lr=1e-2, weight_decay=0.01)

    centers = rng.uniform(0, 1, size=(NP, 2))
    batches = []
    for _ in range(BATCHES):
        start = quantize(rng.uniform(0.2, 0.8, size=(B, 2)))
        velocity = quantize(rng.normal(0, 0.08, size=(T, B, 2)))
        positions = start + np.cumsum(velocity, axis=0)  # (T, B, 2)
        batches.append({
            "input": velocity,
            "initialTarget": place_cells(start, centers, 0.2),  # (B, NP)
            "target": place_cells(positions, centers, 0.2),  # (T, B, NP)
        })

    losses, first_gradients = [], None
    for step in range(STEPS):
        batch = batches[step % BATCHES]
        opt.zero_grad()
        h0 = encoder(tensor(batch["initialTarget"])).unsqueeze(0)  # (1, B, H)
        output, _ = rnn(tensor(batch["input"]), h0)  # (T, B, H)
        logits = decoder(output)  # (T, B, NP)
        target = tensor(batch["target"])
        loss = -(target * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
        loss.backward()
        if step == 0:
            first_gradients = {name: flat(p.grad) for name, p in parameters}
        opt.step()
        losses.append(float(loss.detach()))

    return {
        "name": "navigation", "seeds": {"torch": 201, "numpy": 202},
        "cell": "rnn_relu", "bias": False, "inputSize": 2, "hiddenSize": H, "placeCells": NP,
        "steps": T, "batch": B,
        "optimizer": {"kind": "AdamW", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01},
        "clip": None, "trainingSteps": STEPS,
        "initial": initial,
        "batches": [{k: grid(v) for k, v in b.items()} for b in batches],
        "losses": losses, "firstGradients": first_gradients, "final": snapshot(parameters),
    }


def main():
    torch.set_num_threads(1)
    document = {
        "generator": "Tools/References/trajectory.py",
        "torch": torch.__version__,
        "dtype": "float32",
        "grid": GRID,
        "runs": [adding_run(), navigation_run()],
    }
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "Tests", "NNTests", "References", "trajectory.json")
    with open(path, "w") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}")
    for run in document["runs"]:
        print(run["name"], " ".join(f"{v:.5f}" for v in run["losses"]))


if __name__ == "__main__":
    main()
