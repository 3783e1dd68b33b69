#!/usr/bin/env python3
"""Load a `moduli compress` run (or a dense file `moduli export --dense` wrote from one) into plain
PyTorch modules of hidden size K, and check it against its source run.

Usage:
    python Tools/check_compact_pytorch.py RUN_OR_FILE [--run DIR] [--source DIR] [--samples 500]

RUN_OR_FILE is a compressed run directory (config.json, model.safetensors, compression.json) or a
dense model file of one (then --run names the run, by default the file's directory). The tensors go
with load_state_dict(strict=True) into nn.RNN/nn.LSTM/nn.GRU(hidden_size=K) `rnn` plus the task's
linear layers (adding: `fc`; navigation: `encoder`, `decoder`), and the source run's model (hidden
size H, compression.json's `source` or --source) into the same modules of size H. Then:

1. the fold is replayed here, independently of moduli: for every eliminated unit j (in
   compression.json's order) W[:, k] += c_k W[:, j] (and bias += c_0 W[:, j]) in every consumer
   (rnn.weight_hh_l0 with rnn.bias_hh_l0, the read-out with its bias), then the kept units are
   selected along every axis; the result must equal the compact tensors to float rounding;
2. for the adding task, the compact model's test MSE on the run's own test set (regenerated here
   with moduli's generator from options.testSeed) must equal summary.json's testMSE, which
   `moduli evaluate RUN` reproduces, to --metric-tolerance (relative, default 1e-4);
3. both models run on the same fresh inputs; the largest output difference is printed (zero to
   float rounding where the eliminated units were exactly dependent on these inputs), and for the
   adding task the MSE of both next to the summaries' testMSE.

Exit status 0 when the strict loads, the replay and the metric agree; 1 otherwise, with the reason.
Needs torch and numpy, and check_language_load.py next to this file (its file readers are reused).
For a compressed language run, Tools/check_language_load.py RUN re-evaluates its perplexity
(it reads the hidden size from config.json).
"""
import argparse
import os
import sys

import numpy as np
import torch

from check_language_load import LoadError, densify_sparse, read_json, read_safetensors

GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def build(task, options, hidden):
    """The task's PyTorch module of hidden size `hidden`, named as moduli names the tensors."""
    model = torch.nn.Module()
    if task == "adding":
        cell, layers, bias = options["cell"], options["layers"], options["bias"]
        model.rnn = recurrent(cell, 2, hidden, layers, bias)
        model.fc = torch.nn.Linear(hidden, 1)
    elif task == "navigation":
        cells = options["placeCells"]
        model.encoder = torch.nn.Linear(cells, hidden, bias=False)
        model.rnn = torch.nn.RNN(2, hidden, 1, nonlinearity="relu", bias=False)
        model.decoder = torch.nn.Linear(hidden, cells, bias=False)
    else:
        raise LoadError(f"this check knows the adding and navigation tasks, not {task!r} "
                        "(for a language run use Tools/check_language_load.py)")
    return model.double()


def recurrent(cell, inputs, hidden, layers, bias):
    if cell in ("rnn_relu", "rnn_tanh"):
        return torch.nn.RNN(inputs, hidden, layers, nonlinearity=cell[4:], bias=bias)
    if cell == "lstm":
        return torch.nn.LSTM(inputs, hidden, layers, bias=bias)
    if cell == "gru":
        return torch.nn.GRU(inputs, hidden, layers, bias=bias)
    raise LoadError(f"unknown cell {cell!r}")


def read_state(path):
    tensors, metadata = read_safetensors(path)
    tensors = densify_sparse(tensors, metadata, {})
    return {k: v.double() for k, v in tensors.items() if not k.startswith("moduli.")}


def load_strictly(model, state, what):
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise LoadError(f"{what} does not load strictly: {error}") from None


def readout_name(task):
    return "fc" if task == "adding" else "decoder"


def replay(source, record, task, gates):
    """The source tensors folded as compression.json says, then cut to the kept units."""
    state = {k: v.clone() for k, v in source.items()}
    h = record["sourceHiddenSize"]
    out = readout_name(task)
    consumers = [("rnn.weight_hh_l0", "rnn.bias_hh_l0"), (f"{out}.weight", f"{out}.bias")]
    for step in record["eliminated"]:
        j = step["unit"]
        for weight, bias in consumers:
            w = state[weight]
            column = w[:, j].clone()
            for k, c in zip(step["others"], step["coefficients"]):
                w[:, k] += c * column
            if step["intercept"] != 0:
                state[bias] += step["intercept"] * column
            w[:, j] = 0
    kept = torch.tensor(record["keptUnits"])
    rows = lambda blocks: torch.cat([b * h + kept for b in range(blocks)])  # noqa: E731
    selected = {}
    for name, t in state.items():
        if name.startswith("rnn.weight_") or name.startswith("rnn.bias_"):
            t = t[rows(gates)]
            if name.startswith("rnn.weight_hh"):
                t = t[:, kept]
        elif name == f"{out}.weight":
            t = t[:, kept]
        elif name == "encoder.weight":
            t = t[kept]
        selected[name] = t
    return selected


MASK = (1 << 64) - 1


class SeededGenerator:
    """moduli's generator (Sources/Linalg/SeededGenerator.swift): xoshiro256** seeded by SplitMix64."""

    def __init__(self, seed):
        state, words = seed & MASK, []
        for _ in range(4):
            state = (state + 0x9E3779B97F4A7C15) & MASK
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            words.append(z ^ (z >> 31))
        self.s = words

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (self.rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.s = [s0, s1, s2, self.rotl(s3, 45)]
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def integer_below(self, bound):
        """Lemire's method, as integer(below:)."""
        m = self.next() * bound
        if m & MASK < bound:
            threshold = ((1 << 64) - bound) % bound
            while m & MASK < threshold:
                m = self.next() * bound
        return m >> 64


def adding_test_set(options):
    """The run's own held-out test set (AddingProblem.batch from options.testSeed): `T x B x 2`, `B`."""
    t, n = options["length"], options["testSize"]
    rng = SeededGenerator(options["testSeed"])
    x = np.zeros((t, n, 2), dtype=np.float32)
    y = np.zeros(n, dtype=np.float32)
    for b in range(n):
        for step in range(t):
            x[step, b, 0] = np.float32(rng.uniform())
        first = rng.integer_below(t)
        second = rng.integer_below(t - 1)
        if second >= first:
            second += 1
        x[first, b, 1] = x[second, b, 1] = 1
        y[b] = x[first, b, 0] + x[second, b, 0]
    return torch.from_numpy(x), torch.from_numpy(y)


def inputs(task, options, samples, rng):
    """(initial-state input or None, sequence `T x B x 2`, adding targets or None)."""
    t = options["length"]
    if task == "adding":
        values = rng.random((t, samples))
        markers = np.zeros((t, samples))
        for b in range(samples):
            markers[rng.choice(t, size=2, replace=False), b] = 1
        x = torch.tensor(np.stack([values, markers], axis=-1))
        return None, x, torch.tensor((values * markers).sum(axis=0))
    start = torch.tensor(rng.random((samples, options["placeCells"])))
    start = start / start.sum(dim=1, keepdim=True)
    return start, torch.tensor(rng.normal(0, 0.05, (t, samples, 2))), None


def outputs(model, task, start, x):
    with torch.no_grad():
        if task == "adding":
            out, _ = model.rnn(x)
            return model.fc(out[-1]).squeeze(1)
        h0 = model.encoder(start).unsqueeze(0)
        out, _ = model.rnn(x, h0)
        return model.decoder(out)


def check(args):
    path = args.run_or_file
    run = path if os.path.isdir(path) else (args.run or os.path.dirname(os.path.abspath(path)))
    model_path = os.path.join(path, "model.safetensors") if os.path.isdir(path) else path
    config = read_json(os.path.join(run, "config.json"))
    record = read_json(os.path.join(run, "compression.json"))
    task, options = config["task"], config["options"]
    k = options["hiddenSize"]
    gates = GATES.get(options.get("cell", "rnn_relu"), 1)
    compact_state = read_state(model_path)
    compact = build(task, options, k)
    load_strictly(compact, compact_state, f"{model_path} (hidden size {k})")

    source_dir = args.source or record["source"]
    source_config = read_json(os.path.join(source_dir, "config.json"))
    source_state = read_state(os.path.join(source_dir, "model.safetensors"))
    source = build(task, source_config["options"], record["sourceHiddenSize"])
    load_strictly(source, source_state, f"{source_dir} (hidden size {record['sourceHiddenSize']})")
    print(f"loaded {model_path} strictly into hidden size {k}, and {source_dir} into {record['sourceHiddenSize']}")

    replayed = replay(source_state, record, task, gates)
    worst = 0.0
    for name, t in compact_state.items():
        scale = max(1.0, float(replayed[name].abs().max()))
        worst = max(worst, float((t - replayed[name]).abs().max()) / scale)
    print(f"fold replayed from compression.json: largest difference from the compact tensors {worst:.3g}")
    if worst > args.tolerance:
        raise LoadError(f"the compact tensors differ from the replayed fold by {worst:.3g} (more than {args.tolerance:g})")

    rng = np.random.default_rng(0)
    start, x, target = inputs(task, options, args.samples, rng)
    ours, theirs = outputs(compact, task, start, x), outputs(source, task, start, x)
    print(f"outputs on {args.samples} fresh sequences: largest |compact - source| {float((ours - theirs).abs().max()):.3g} "
          f"({len(record['eliminated'])} units folded, {len(record['deadUnits'])} dead units dropped, "
          f"tolerance {record['tolerance']})")
    if task == "adding":
        # The metric moduli evaluate reports (summary.json's testMSE), here from PyTorch in float32 on the
        # run's own test set.
        x_test, y_test = adding_test_set(options)
        mse = float(((outputs(compact.float(), task, None, x_test) - y_test).double() ** 2).mean())
        saved = read_json(os.path.join(run, "summary.json"))["testMSE"]
        difference = abs(mse - saved) / max(abs(saved), 1e-12)
        print(f"test MSE on the run's test set ({options['testSize']} sequences, seed {options['testSeed']}): "
              f"PyTorch {mse:.6g}, summary.json (moduli evaluate) {saved:.6g}, relative difference {difference:.2g}")
        if difference > args.metric_tolerance:
            raise LoadError(f"the test MSE differs from summary.json by {difference:.3g} (more than {args.metric_tolerance:g})")
        compact.double()
    if target is not None:
        summary = read_json(os.path.join(run, "summary.json"))
        print(f"MSE: compact {float(((ours - target) ** 2).mean()):.6f} (summary.json {summary['testMSE']:.6f}), "
              f"source {float(((theirs - target) ** 2).mean()):.6f} (its summary.json {record['sourceMetrics']['testMSE']:.6f})")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_or_file", help="a compressed run directory, or a dense model file of one")
    parser.add_argument("--run", default=None, help="the compressed run of a model file (default: the file's directory)")
    parser.add_argument("--source", default=None, help="the source run (default: compression.json's source)")
    parser.add_argument("--samples", type=int, default=500, help="fresh input sequences")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest relative difference of the replayed fold")
    parser.add_argument("--metric-tolerance", type=float, default=1e-4,
                        help="largest relative difference of the adding test MSE from summary.json")
    args = parser.parse_args(argv)
    try:
        return check(args)
    except (LoadError, KeyError) as error:
        print(f"check_compact_pytorch: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
