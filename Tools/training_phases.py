#!/usr/bin/env python3
"""Wall time of each phase of finished runs, from metrics.jsonl: the dense ramp (epochs before the
pruning event that leaves at most 20% of W_hh, where `--recurrent-kernels auto` switches it to the
sparse kernels), the sparse tail (the rest of the main phase) and the lottery phase; and the step
at which each pruned tensor falls to 20% density (where a pruned linear layer switches).

    python3 Tools/training_phases.py RUN [RUN...]
"""
import json, sys
def phases(path):
    ev, prunes = [], []
    for l in open(path + "/metrics.jsonl"):
        j = json.loads(l)
        if j["kind"] == "eval": ev.append(j)
        if j["kind"] == "prune": prunes.append(j)
    # the step at which W_hh density first falls to 20% or below
    switch = next((p["step"] for p in prunes if 1 - p["sparsity"]["recurrent"]["sparsity"] <= 0.2), None)
    tensors = {}
    for p in prunes:
        for t in p["sparsity"]["tensors"]:
            if 1 - t["sparsity"] <= 0.2: tensors.setdefault(t["name"], p["step"])
    config = json.load(open(path + "/config.json"))
    steps_per_epoch = config["training"]["stepsPerEpoch"]
    t0 = 0.0; out = {"dense ramp": 0.0, "sparse tail": 0.0, "lottery": 0.0}
    for e in ev:
        dt = e["wallSeconds"] - t0; t0 = e["wallSeconds"]
        step_start = e["step"] - steps_per_epoch
        key = "lottery" if e["phase"] == 1 else ("sparse tail" if switch is not None and step_start >= switch else "dense ramp")
        out[key] += dt
    s = json.load(open(path + "/summary.json"))
    return switch, out, s, tensors
for p in sys.argv[1:]:
    switch, out, s, tensors = phases(p)
    print(p, "switch at step", switch, {k: round(v, 1) for k, v in out.items()}, "total", round(s["wallSeconds"], 1),
          "main cm %.2f lottery cm %.2f" % (s["main"]["decodingErrorCM"], s["decodingErrorCM"]))
    print("  at most 20% kept from step:", tensors)
