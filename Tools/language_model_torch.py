#!/usr/bin/env python3
"""PyTorch reference for `moduli train language`: the word-level language model (docs/method.md section 5).

Usage:
    python Tools/language_model_torch.py [--data DIR] [--cell rnn_tanh|rnn_relu|lstm|gru]
        [--emsize 200] [--nhid 200] [--layers 1] [--dropout 0] [--tied]
        [--lr 20] [--clip 0.25] [--epochs 3] [--batch-size 20] [--bptt 35] [--seed 0]
        [--threads 1] [--max-steps N]
    python Tools/language_model_torch.py --bench [--bench-steps 20] [model options]

Trains with the protocol the Swift side follows, so that its numbers can be compared:

- Corpus: DIR/train.txt, valid.txt and test.txt; every line (read in text mode, universal
  newlines, UTF-8) gives `line.split()` + ['<eos>'], blank lines included; vocabulary ids in order
  of first appearance over train, then valid, then test. Without --data, the built-in split of
  Sources/Experiments/Language/wikitext-2: train = the first floor(9 L / 10) of the L lines of
  valid.txt, valid = the remaining lines, test = test.txt (its counts are checked).
- Batches: the ids cut into B columns (train B = --batch-size, eval B = 10), the tail dropped;
  windows of --bptt rows, each target the next row; the hidden state starts at zero every epoch
  and is carried, detached, across windows.
- Model: Embedding(V, E) `encoder` -> dropout -> RNN/LSTM/GRU(E, H, layers) `rnn` -> dropout ->
  Linear(H, V) `decoder`; encoder and decoder weights U(-0.1, 0.1), decoder bias 0, the RNN's
  PyTorch default init; --tied shares the decoder weight with the encoder (needs E == H).
- Training: plain SGD at --lr on the mean cross-entropy of each window, gradient norm clipped to
  --clip over all parameters; after each epoch the validation loss is measured and lr /= 4 when it
  did not improve on the best so far.
- Evaluation (validation and test, after the last epoch with the final weights): mean NLL over all
  (rows - 1) * B predictions, perplexity exp(mean NLL), top-1 accuracy.

Prints one line per epoch and the test numbers, then a final `RESULT {json}` line. --bench times
training steps only (forward, backward, clip, SGD update; hidden carried) after 3 warm-up steps and
prints `BENCH {json}` with the mean ms per step.

Needs only torch and numpy.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn

BUILT_IN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                            "Sources", "Experiments", "Language", "wikitext-2")
# Counts of the built-in split (docs: Sources/Experiments/Language/wikitext-2/README.md).
BUILT_IN_COUNTS = {"valid_lines": 3760, "train_lines": 3384, "train_tokens": 195890,
                   "valid_tokens": 21756, "test_tokens": 245569, "vocabulary": 18328}
CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
EVAL_BATCH_SIZE = 10
BENCH_WARMUP_STEPS = 3


# Corpus

class Vocabulary:
    """Word ids in order of first appearance."""

    def __init__(self):
        self.ids = {}

    def add_tokens(self, lines):
        """The ids of `line.split() + ['<eos>']` for every line, adding new words."""
        ids = []
        for line in lines:
            for word in line.split() + ["<eos>"]:
                ids.append(self.ids.setdefault(word, len(self.ids)))
        return torch.tensor(ids, dtype=torch.long)

    def __len__(self):
        return len(self.ids)


def read_lines(path):
    """The lines of a UTF-8 text file as Python's text mode splits them (universal newlines)."""
    if not os.path.isfile(path):
        sys.exit(f"error: corpus file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        return list(f)


def load_corpus(data_dir):
    """(vocabulary, train ids, valid ids, test ids, description) from DIR or the built-in split."""
    vocabulary = Vocabulary()
    if data_dir is not None:
        if not os.path.isdir(data_dir):
            sys.exit(f"error: corpus directory {data_dir} does not exist")
        train, valid, test = (vocabulary.add_tokens(read_lines(os.path.join(data_dir, name)))
                              for name in ("train.txt", "valid.txt", "test.txt"))
        return vocabulary, train, valid, test, data_dir
    valid_lines = read_lines(os.path.join(BUILT_IN_DIR, "valid.txt"))
    train_line_count = len(valid_lines) * 9 // 10
    train = vocabulary.add_tokens(valid_lines[:train_line_count])
    valid = vocabulary.add_tokens(valid_lines[train_line_count:])
    test = vocabulary.add_tokens(read_lines(os.path.join(BUILT_IN_DIR, "test.txt")))
    counts = {"valid_lines": len(valid_lines), "train_lines": train_line_count, "train_tokens": len(train),
              "valid_tokens": len(valid), "test_tokens": len(test), "vocabulary": len(vocabulary)}
    assert counts == BUILT_IN_COUNTS, f"built-in split counts {counts} differ from the documented {BUILT_IN_COUNTS}"
    description = (f"built-in: train = first {train_line_count} lines of valid.txt, "
                   f"valid = its last {len(valid_lines) - train_line_count}, test = test.txt")
    return vocabulary, train, valid, test, description


def batchify(ids, batch_size):
    """A (rows, batch_size) tensor whose column b is ids[b * rows:(b + 1) * rows]; the tail is dropped."""
    rows = len(ids) // batch_size
    return ids[:rows * batch_size].view(batch_size, rows).t().contiguous()


def windows(data, bptt):
    """(inputs, targets) pairs of up to bptt rows; the targets are the next rows."""
    rows = data.size(0)
    for i in range(0, rows - 1, bptt):
        seq_len = min(bptt, rows - 1 - i)
        yield data[i:i + seq_len], data[i + 1:i + 1 + seq_len]


# Model

class LanguageModel(nn.Module):
    """Embedding -> dropout -> recurrent layers -> dropout -> linear decoder over the vocabulary."""

    def __init__(self, cell, vocab_size, emsize, nhid, layers, dropout=0.0, tied=False):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")
        self.cell, self.nhid, self.layers = cell, nhid, layers
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, emsize)
        if cell == "lstm":
            self.rnn = nn.LSTM(emsize, nhid, layers, dropout=dropout)
        elif cell == "gru":
            self.rnn = nn.GRU(emsize, nhid, layers, dropout=dropout)
        else:
            self.rnn = nn.RNN(emsize, nhid, layers, nonlinearity=cell[len("rnn_"):], dropout=dropout)
        self.decoder = nn.Linear(nhid, vocab_size)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if tied:
            if emsize != nhid:
                raise ValueError(f"--tied needs emsize == nhid (got {emsize} and {nhid})")
            self.decoder.weight = self.encoder.weight

    def forward(self, inputs, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(inputs)), hidden)
        return self.decoder(self.drop(output)), hidden

    def initial_hidden(self, batch_size):
        zeros = torch.zeros(self.layers, batch_size, self.nhid)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros


def detach(hidden):
    return tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()


# Training and evaluation

def train_step(model, inputs, targets, hidden, lr, clip):
    """One SGD step on the window's mean cross-entropy; returns (loss, new detached hidden)."""
    model.zero_grad()
    logits, hidden = model(inputs, hidden)
    loss = nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(p.grad, alpha=-lr)
    return loss.item(), detach(hidden)


def train_epoch(model, data, bptt, lr, clip, max_steps=None):
    """One pass over the training columns; returns (mean training loss, steps, ms per step)."""
    model.train()
    hidden = model.initial_hidden(data.size(1))
    total_loss, steps = 0.0, 0
    start = time.perf_counter()
    for inputs, targets in windows(data, bptt):
        if max_steps is not None and steps >= max_steps:
            break
        loss, hidden = train_step(model, inputs, targets, hidden, lr, clip)
        total_loss += loss
        steps += 1
    elapsed = time.perf_counter() - start
    return total_loss / steps, steps, 1000 * elapsed / steps


def evaluate(model, data, bptt):
    """(mean NLL, perplexity, top-1 accuracy) over all (rows - 1) * B predictions, hidden carried."""
    model.eval()
    hidden = model.initial_hidden(data.size(1))
    nll_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for inputs, targets in windows(data, bptt):
            logits, hidden = model(inputs, hidden)
            logits, targets = logits.view(-1, logits.size(-1)), targets.reshape(-1)
            nll_sum += nn.functional.cross_entropy(logits, targets, reduction="sum").double().item()
            correct += int((logits.argmax(dim=1) == targets).sum())
            count += targets.numel()
    assert count == (data.size(0) - 1) * data.size(1)
    loss = nll_sum / count
    perplexity = math.exp(loss) if loss < 700 else math.inf  # a diverged run must not stop the script
    return loss, perplexity, correct / count


# Command line

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="corpus directory with train.txt, valid.txt, test.txt "
                                                     "(default: the built-in WikiText-2 split)")
    parser.add_argument("--cell", default="rnn_tanh", choices=CELLS)
    parser.add_argument("--emsize", type=int, default=200)
    parser.add_argument("--nhid", type=int, default=200)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--tied", action="store_true", help="share the decoder weight with the encoder")
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--max-steps", type=int, default=None, help="cap on training steps per epoch")
    parser.add_argument("--bench", action="store_true", help="only time training steps")
    parser.add_argument("--bench-steps", type=int, default=20)
    args = parser.parse_args(argv)
    if args.tied and args.emsize != args.nhid:
        parser.error(f"--tied needs --emsize == --nhid (got {args.emsize} and {args.nhid})")
    return args


def benchmark(args, model, train_data):
    """Times --bench-steps training steps after the warm-up; prints BENCH {json}."""
    hidden = model.initial_hidden(train_data.size(1))
    model.train()
    batches = list(windows(train_data, args.bptt))
    times = []
    for step in range(BENCH_WARMUP_STEPS + args.bench_steps):
        inputs, targets = batches[step % len(batches)]
        start = time.perf_counter()
        _, hidden = train_step(model, inputs, targets, hidden, args.lr, args.clip)
        if step >= BENCH_WARMUP_STEPS:
            times.append(1000 * (time.perf_counter() - start))
    times.sort()
    result = {"ms_per_step": sum(times) / len(times), "ms_min": times[0], "ms_median": times[len(times) // 2],
              "steps": args.bench_steps, "warmup_steps": BENCH_WARMUP_STEPS, "cell": args.cell,
              "emsize": args.emsize, "nhid": args.nhid, "layers": args.layers, "tied": args.tied,
              "vocabulary": model.decoder.out_features, "batch_size": args.batch_size, "bptt": args.bptt,
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    print("BENCH " + json.dumps(result))


def train(args, model, train_data, valid_data, test_data):
    """The training run: prints each epoch and the test numbers, then RESULT {json}."""
    lr, best_valid_loss, epochs = args.lr, None, []
    for epoch in range(1, args.epochs + 1):
        train_loss, steps, ms_per_step = train_epoch(model, train_data, args.bptt, lr, args.clip, args.max_steps)
        valid_loss, valid_ppl, valid_acc = evaluate(model, valid_data, args.bptt)
        print(f"epoch {epoch}: {steps} steps at lr {lr:g}, {ms_per_step:.1f} ms/step, train loss {train_loss:.4f}; "
              f"valid loss {valid_loss:.4f}, ppl {valid_ppl:.2f}, accuracy {100 * valid_acc:.2f}%", flush=True)
        epochs.append({"epoch": epoch, "lr": lr, "steps": steps, "ms_per_step": ms_per_step, "train_loss": train_loss,
                       "valid_loss": valid_loss, "valid_perplexity": valid_ppl, "valid_accuracy": valid_acc})
        if best_valid_loss is None or valid_loss < best_valid_loss:
            best_valid_loss = valid_loss
        else:
            lr /= 4
    test_loss, test_ppl, test_acc = evaluate(model, test_data, args.bptt)
    predictions = (test_data.size(0) - 1) * test_data.size(1)
    print(f"test: loss {test_loss:.4f}, perplexity {test_ppl:.2f}, accuracy {100 * test_acc:.2f}% "
          f"({predictions} predictions)")
    result = {"args": vars(args), "epochs": epochs, "test_loss": test_loss, "test_perplexity": test_ppl,
              "test_accuracy": test_acc, "test_predictions": predictions,
              "ms_per_step": sum(e["ms_per_step"] for e in epochs) / len(epochs),
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    print("RESULT " + json.dumps(result))


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    vocabulary, train_ids, valid_ids, test_ids, description = load_corpus(args.data)
    print(f"corpus: {description}; vocabulary {len(vocabulary)}, tokens train {len(train_ids)}, "
          f"valid {len(valid_ids)}, test {len(test_ids)}")
    train_data = batchify(train_ids, args.batch_size)
    model = LanguageModel(args.cell, len(vocabulary), args.emsize, args.nhid, args.layers, args.dropout, args.tied)
    print(f"model: {args.cell}, emsize {args.emsize}, nhid {args.nhid}, layers {args.layers}, "
          f"dropout {args.dropout:g}, tied {args.tied}; {sum(p.numel() for p in model.parameters())} parameters; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)", flush=True)
    if args.bench:
        benchmark(args, model, train_data)
    else:
        train(args, model, train_data, batchify(valid_ids, EVAL_BATCH_SIZE), batchify(test_ids, EVAL_BATCH_SIZE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
