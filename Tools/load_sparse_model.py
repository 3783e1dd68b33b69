#!/usr/bin/env python3
"""Loads a sparse model file written by `moduli export` into PyTorch.

Every pruned tensor NAME is stored as NAME.crow_indices, NAME.col_indices (int32) and NAME.values
(float32); this script turns each triple into torch.sparse_csr_tensor with the size recorded in the
metadata (sparse_shapes) and leaves the other tensors dense. With a second file (the run's
model.safetensors, or `moduli export --dense` of the same order) it checks that every tensor equals
the dense one exactly.

    python Tools/load_sparse_model.py SPARSE.safetensors [DENSE.safetensors]

Needs only torch (no safetensors package): the format is an 8-byte little-endian header length,
a JSON header and the raw little-endian tensor bytes.
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    metadata = header.pop("__metadata__", {})
    body = data[8 + length:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        raw = bytearray(body[begin:end])
        t = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[entry["dtype"]])
        tensors[name] = t.reshape(entry["shape"])
    return tensors, metadata


def load_sparse_model(path):
    """A state_dict: sparse CSR tensors for the pruned weights, dense tensors for the rest."""
    tensors, metadata = read_safetensors(path)
    shapes = json.loads(metadata.get("sparse_shapes", "{}"))
    state = {}
    for name, size in shapes.items():
        state[name] = torch.sparse_csr_tensor(tensors.pop(name + ".crow_indices"), tensors.pop(name + ".col_indices"),
                                              tensors.pop(name + ".values"), size=tuple(size), check_invariants=True)
    state.update(tensors)
    return state, metadata


def main():
    state, metadata = load_sparse_model(sys.argv[1])
    print(f"{sys.argv[1]}: format {metadata.get('format')}, task {metadata.get('task')}, "
          f"neuron_order {'present' if 'neuron_order' in metadata else 'absent'}")
    for name, t in sorted(state.items()):
        if t.layout == torch.sparse_csr:
            n = t.shape[0] * t.shape[1]
            print(f"  {name}: sparse CSR {tuple(t.shape)}, {t.values().numel()} kept ({100 * (1 - t.values().numel() / n):.2f}% sparse)")
        else:
            print(f"  {name}: dense {tuple(t.shape)}")
    if len(sys.argv) > 2:
        dense, _ = read_safetensors(sys.argv[2])
        for name, t in sorted(state.items()):
            d = t.to_dense() if t.layout == torch.sparse_csr else t
            if not torch.equal(d, dense[name]):
                sys.exit(f"  {name} differs from {sys.argv[2]}")
        print(f"  every tensor equals {sys.argv[2]}")
        # A pruned recurrent step with the sparse weight, as PyTorch runs it.
        for name, t in state.items():
            if t.layout == torch.sparse_csr and t.shape[0] == t.shape[1]:
                h = torch.randn(t.shape[1], 1)
                err = (t @ h - dense[name] @ h).abs().max().item()
                print(f"  {name} @ h: sparse and dense products differ by {err:.2e}")
                break


if __name__ == "__main__":
    main()
