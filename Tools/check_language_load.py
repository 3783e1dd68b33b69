#!/usr/bin/env python3
"""Load a `moduli train language` run into plain PyTorch modules and re-evaluate its test split.

Usage:
    python Tools/check_language_load.py RUN_DIR [--model FILE] [--data DIR] [--threads 1]

Reads RUN_DIR/config.json (options: cell, embeddingSize, hiddenSize, layers, tied, evaluationBatchSize,
bptt, data) and the model file (RUN_DIR/model.safetensors, or --model FILE such as a sparse file
from `moduli export`) with the standard library; keys starting with "moduli." (learned neuron
positions) are dropped and sparse tensors (NAME.crow_indices, NAME.col_indices, NAME.values) are
densified. The weights go into nn.Embedding `encoder` + nn.RNN/LSTM/GRU `rnn` + nn.Linear `decoder`
with load_state_dict(strict=True); with tying, encoder.weight and decoder.weight must both be
present and equal. The corpus (options.data, --data, or the built-in split) is rebuilt and the test
perplexity and accuracy, evaluated as Tools/language_model_torch.py does, are printed next to
RUN_DIR/summary.json's testPerplexity and testAccuracy.

Exit status: 0 when the perplexities agree within --tolerance (relative, default 1e-3); 1 when they
do not, or when a file is missing or a tensor is missing, unexpected or misshaped.

Needs only torch and numpy, and language_model_torch.py next to this file.
"""
import argparse
import json
import math
import os
import struct
import sys
import warnings

import numpy as np
import torch

from language_model_torch import LanguageModel, batchify, evaluate, load_corpus

SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}
SPARSE_PARTS = (".crow_indices", ".col_indices", ".values")
REQUIRED_OPTIONS = ("cell", "embeddingSize", "hiddenSize", "layers")
REPO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


class LoadError(Exception):
    """A problem with the run directory or the model file, in words."""


def read_json(path):
    if not os.path.isfile(path):
        raise LoadError(f"{path} does not exist")
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise LoadError(f"{path} is not valid JSON: {error}") from None


def read_safetensors(path):
    """(tensors by name, metadata) of a safetensors file; checks dtypes, shapes and offsets."""
    if not os.path.isfile(path):
        raise LoadError(f"model file {path} does not exist")
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise LoadError(f"{path} is too short for a safetensors file ({len(data)} bytes)")
    (header_length,) = struct.unpack("<Q", data[:8])
    if 8 + header_length > len(data):
        raise LoadError(f"{path}: header length {header_length} runs past the end of the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + header_length])
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LoadError(f"{path}: the header is not valid JSON: {error}") from None
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + header_length:]
    tensors = {}
    for name, entry in header.items():
        dtype = SAFETENSORS_DTYPES.get(entry.get("dtype"))
        if dtype is None:
            raise LoadError(f"{path}: tensor {name} has dtype {entry.get('dtype')!r}; "
                            f"supported: {', '.join(SAFETENSORS_DTYPES)}")
        try:
            shape, (begin, end) = [int(n) for n in entry["shape"]], entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise LoadError(f"{path}: tensor {name} has no valid shape and data_offsets: {entry}") from None
        expected_bytes = math.prod(shape) * np.dtype(dtype).itemsize
        if not 0 <= begin <= end <= len(body) or end - begin != expected_bytes:
            raise LoadError(f"{path}: tensor {name} (shape {shape}, {entry['dtype']}) has data_offsets "
                            f"[{begin}, {end}]; expected {expected_bytes} bytes within the {len(body)}-byte body")
        array = np.frombuffer(body[begin:end], dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
        tensors[name] = torch.from_numpy(array.astype(dtype))
    return tensors, metadata


def densify_sparse(tensors, metadata, expected_shapes):
    """Replaces every NAME.crow_indices/.col_indices/.values triple with the dense tensor NAME."""
    sparse_shapes = json.loads(metadata.get("sparse_shapes", "{}"))
    names = sorted({key[:-len(part)] for key in tensors for part in SPARSE_PARTS if key.endswith(part)})
    for name in names:
        missing = [name + part for part in SPARSE_PARTS if name + part not in tensors]
        if missing:
            raise LoadError(f"sparse tensor {name} lacks {', '.join(missing)}")
        size = sparse_shapes.get(name) or expected_shapes.get(name)
        if size is None:
            raise LoadError(f"sparse tensor {name} has no shape in the metadata and is not a weight of the model")
        crow, col, values = (tensors.pop(name + part) for part in SPARSE_PARTS)
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        try:
            sparse = torch.sparse_csr_tensor(crow.long(), col.long(), values, size=tuple(size), check_invariants=True)
        except RuntimeError as error:
            raise LoadError(f"sparse tensor {name} is not a valid CSR tensor of size {size}: {error}") from None
        tensors[name] = sparse.to_dense()
    return tensors


def check_state(state, model, tied):
    """Raises LoadError naming every missing, unexpected or misshaped tensor, or unequal tied weights."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    problems = [f"missing tensor {name} {list(shape)}" for name, shape in expected.items() if name not in state]
    problems += [f"unexpected tensor {name} {list(t.shape)}" for name, t in state.items() if name not in expected]
    problems += [f"tensor {name} has shape {list(t.shape)}, the model needs {list(expected[name])}"
                 for name, t in state.items() if name in expected and tuple(t.shape) != expected[name]]
    if "encoder.weight" in state and state["encoder.weight"].shape[0] != model.encoder.num_embeddings:
        problems.append(f"(the corpus has {model.encoder.num_embeddings} words: was the run trained on another "
                        "corpus? see --data)")
    if problems:
        raise LoadError("the model file does not fit the configured model:\n  " + "\n  ".join(problems))
    if tied and not torch.equal(state["encoder.weight"], state["decoder.weight"]):
        raise LoadError("the run is tied but encoder.weight and decoder.weight differ "
                        f"(max |difference| {(state['encoder.weight'] - state['decoder.weight']).abs().max():.3g})")


def read_options(config, path):
    """config["options"], checked for the keys that shape the model."""
    options = config.get("options")
    if not isinstance(options, dict):
        raise LoadError(f"{path} has no options object")
    missing = [key for key in REQUIRED_OPTIONS if key not in options]
    if missing:
        raise LoadError(f"{path}: options lack {', '.join(missing)}")
    return options


def resolve_data_dir(data):
    """The corpus directory as given, or relative to the repository root; None for the built-in split."""
    if data is None or os.path.isdir(data):
        return data
    from_root = os.path.join(REPO_ROOT, data)
    if not os.path.isabs(data) and os.path.isdir(from_root):
        return from_root
    raise LoadError(f"corpus directory {data} (from the run's config or --data) does not exist")


def relative_difference(ours, theirs):
    """|ours - theirs| / |theirs|: 0 when equal (infinities included), inf when undefined."""
    if ours == theirs:
        return 0.0
    difference = abs(ours - theirs) / abs(theirs) if theirs else math.inf
    return difference if math.isfinite(difference) else math.inf


def check_run(args):
    """Loads and evaluates the run; returns the relative perplexity difference."""
    config_path = os.path.join(args.run, "config.json")
    config = read_json(config_path)
    if config.get("task") != "language":
        raise LoadError(f"{config_path} is for task {config.get('task')!r}, not 'language'")
    options = read_options(config, config_path)
    metrics = read_json(os.path.join(args.run, "summary.json"))  # the final metrics are top-level keys
    for key in ("testPerplexity", "testAccuracy"):
        if key not in metrics:
            raise LoadError(f"{args.run}/summary.json has no {key}")
    model_path = args.model or os.path.join(args.run, "model.safetensors")
    tensors, metadata = read_safetensors(model_path)
    state = {name: t for name, t in tensors.items() if not name.startswith("moduli.")}

    data_dir = resolve_data_dir(args.data if args.data is not None else options.get("data"))
    vocabulary, _, _, test_ids, description = load_corpus(data_dir)
    tied = bool(options.get("tied", False))
    model = LanguageModel(options["cell"], len(vocabulary), options["embeddingSize"], options["hiddenSize"],
                          options["layers"], dropout=0.0, tied=tied)
    expected_shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    state = {name: t.float() for name, t in densify_sparse(state, metadata, expected_shapes).items()}
    check_state(state, model, tied)
    model.load_state_dict(state, strict=True)
    zeros = sum(int((t == 0).sum()) for name, t in state.items() if "weight" in name)
    total = sum(t.numel() for name, t in state.items() if "weight" in name)
    print(f"loaded {len(state)} tensors from {model_path} strictly"
          f"{' (tied: encoder.weight == decoder.weight)' if tied else ''}; weight zeros {zeros}/{total} "
          f"({100 * zeros / total:.1f}%)")
    print(f"corpus: {description}; vocabulary {len(vocabulary)}, test tokens {len(test_ids)}")

    test_data = batchify(test_ids, options.get("evaluationBatchSize", 10))
    _, perplexity, accuracy = evaluate(model, test_data, options.get("bptt", 35))
    predictions = (test_data.size(0) - 1) * test_data.size(1)
    ppl_difference = relative_difference(perplexity, metrics["testPerplexity"])
    acc_difference = relative_difference(accuracy, metrics["testAccuracy"])
    print(f"test perplexity: PyTorch {perplexity:.4f}, summary.json {metrics['testPerplexity']:.4f}, "
          f"relative difference {ppl_difference:.2e}")
    print(f"test accuracy:   PyTorch {accuracy:.6f}, summary.json {metrics['testAccuracy']:.6f}, "
          f"relative difference {acc_difference:.2e} ({predictions} predictions)")
    return ppl_difference


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="run directory with config.json, summary.json and model.safetensors")
    parser.add_argument("--model", default=None, help="model file to load instead of RUN_DIR/model.safetensors")
    parser.add_argument("--data", default=None, help="corpus directory instead of the one in config.json")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest relative perplexity difference")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        ppl_difference = check_run(args)
    except (LoadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if ppl_difference > args.tolerance:
        print(f"FAIL: the perplexities differ by {ppl_difference:.2e} relative (tolerance {args.tolerance:g})")
        return 1
    print(f"OK: the perplexities agree within {args.tolerance:g} relative")
    return 0


if __name__ == "__main__":
    sys.exit(main())
