#!/usr/bin/env python3
"""The grokking experiment of `grok`, in PyTorch, with the published Grokfast filters: the reference beside our runs.

Same procedure as Grokfast.Bench's `grok` (and the paper's main.py): x*y mod 97 as token sequences [x, op, y, =],
split 50/50 by one random permutation; a 2-block decoder (width 128, 4 heads, blocks that layer-normalise the input
before keeping it for the residual), Adam(lr 1e-3, betas 0.9/0.98) with each run's weight decay, batches of 512, a
linear warm-up over the first ten updates; validation after every epoch. The filters are written here with the
published semantics (gradfilter_ema, gradfilter_ma; the Kalman filter of pull request #8). The seed sets the split,
the initialisation and the batch order, as in `grok`; both draw them from libtorch's CPU generator, and on 2026-11-26
every seed here grokked within one epoch of the same seed there, but the draws have not been compared directly —
compare the spread over seeds first.
Prints the same table as `grok --seeds`: per run, seeds that reached 95 % validation, the median steps (unreached
seeds counted as later) and the range, and the median wall time.

    apt-get install python3-torch python3-numpy libopenblas0-pthread
    /usr/bin/python3 tools/grokking/reference.py --filter ema,ma --seeds 0-2 [--steps 1200] [--stop-at 0.95] [--json out.json] [--device cuda]
"""
import argparse
import json
import math
import os
import time
from collections import deque

import torch
import torch.nn as nn
import torch.nn.functional as F

P = 97
RUNS = {  # name: (weight decay, step budget, filter options)
    "baseline": (0.0, 800, None),
    "ema": (0.005, 1200, {"alpha": 0.98, "lamb": 2.0}),
    "ma": (0.01, 1200, {"window_size": 100, "lamb": 5.0}),
    "kalman": (0.005, 1200, {"process_noise": 1e-4, "measurement_noise": 1e-2, "lamb": 2.0}),
}
PAPER = {"baseline": 39890, "ema": 910, "ma": 790}


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        mask = torch.full((len(x), len(x)), -float("inf"), dtype=x.dtype).triu(1)
        x = self.ln_1(x)
        x = x + self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Decoder(nn.Module):
    def __init__(self, vocabulary, width=128, blocks=2, heads=4, positions=5):
        super().__init__()
        self.token_embeddings = nn.Embedding(vocabulary, width)
        self.position_embeddings = nn.Embedding(positions, width)
        self.layers = nn.ModuleList([Block(width, heads) for _ in range(blocks)])
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary, bias=False)

    def forward(self, tokens):
        h = self.token_embeddings(tokens)
        h = h + self.position_embeddings(torch.arange(tokens.shape[0]).unsqueeze(-1)).expand_as(h)
        for layer in self.layers:
            h = layer(h)
        return self.head(self.ln_f(h))


def data():
    x = torch.arange(P).repeat_interleave(P - 1)
    y = torch.arange(1, P).repeat(P)
    sequences = torch.stack([x, torch.full_like(x, P + 1), y, torch.full_like(x, P)])
    results = x * y % P
    order = torch.randperm(len(x))
    train, valid = order[: len(x) // 2], order[len(x) // 2:]
    return sequences[:, train], results[train], sequences[:, valid], results[valid]


def gradfilter_ema(model, grads, alpha, lamb):
    if grads is None:
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    for n, p in model.named_parameters():
        if p.requires_grad:
            grads[n] = grads[n] * alpha + p.grad.detach() * (1 - alpha)
            p.grad = p.grad + grads[n] * lamb
    return grads


def gradfilter_ma(model, grads, window_size, lamb):
    if grads is None:
        grads = {n: deque(maxlen=window_size) for n, p in model.named_parameters() if p.requires_grad}
    for n, p in model.named_parameters():
        if p.requires_grad:
            grads[n].append(p.grad.detach())
            if len(grads[n]) == window_size:
                p.grad = p.grad + sum(grads[n]) / window_size * lamb
    return grads


def gradfilter_kalman(model, state, process_noise, measurement_noise, lamb):
    if state is None:
        state = {n: [torch.zeros_like(p.grad), torch.full_like(p.grad, measurement_noise)]
                 for n, p in model.named_parameters() if p.requires_grad}
    for n, p in model.named_parameters():
        if p.requires_grad:
            x, covariance = state[n]
            predicted = covariance + process_noise
            gain = predicted / (predicted + measurement_noise)
            x = x + gain * (p.grad - x)
            state[n] = [x, (1 - gain) * predicted]
            p.grad = p.grad + x * lamb
    return state


FILTERS = {"ema": gradfilter_ema, "ma": gradfilter_ma, "kalman": gradfilter_kalman}


def run(name, seed, steps, stop_at, device):
    weight_decay, budget, options = RUNS[name]
    budget = steps or budget
    torch.manual_seed(seed)
    model = Decoder(P + 2).to(device)
    train_x, train_y, valid_x, valid_y = (t.to(device) for t in data())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda update: min(update / 10, 1))
    state, step, reached = None, 0, None
    epochs = math.ceil(budget / math.ceil(len(train_y) / 512))
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train_y))
        for batch in order.split(512):
            loss = F.cross_entropy(model(train_x[:, batch])[-1], train_y[batch])
            # set_to_none, PyTorch 2's default and what the published filters were written against: with 1.13's
            # in-place zeroing, gradfilter_ma's window would hold one aliased gradient tensor until it first fills.
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if options is not None:
                state = FILTERS[name](model, state, **options)
            optimizer.step()
            scheduler.step()
            step += 1
        model.eval()
        with torch.no_grad():
            accuracy = (model(valid_x)[-1].argmax(-1) == valid_y).float().mean().item()
        if reached is None and accuracy >= 0.95:
            reached = step
        if stop_at is not None and accuracy >= stop_at:
            break
    return {"name": name, "seed": seed, "steps": step, "steps_to_95_val": reached, "final_val_acc": accuracy,
            "wall_s": time.perf_counter() - start}


def seeds_of(text):
    seeds = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--filter", default="ema,ma", help="comma-separated runs: baseline, ema, ma, kalman")
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--steps", type=int, default=None, help="step budget of every run (default: each run's own)")
    parser.add_argument("--stop-at", type=float, default=None, help="end a run after the first epoch at this validation accuracy")
    parser.add_argument("--json", default=None)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (as grok --device cuda)")
    arguments = parser.parse_args()
    torch.set_num_threads(os.cpu_count())  # as libtorch under TorchSharp uses every core
    results = []
    for seed in seeds_of(arguments.seeds):
        for name in arguments.filter.split(","):
            results.append(run(name, seed, arguments.steps, arguments.stop_at, torch.device(arguments.device)))
            r = results[-1]
            print(f"{name:9} seed {seed}: 95% val at {r['steps_to_95_val']} of {r['steps']} steps, "
                  f"final val {r['final_val_acc']:.1%}, {r['wall_s']:.0f} s", flush=True)
    print(f"\nPyTorch {torch.__version__}, {arguments.device}, {torch.get_num_threads()} threads: steps to 95 % validation accuracy over seeds")
    print(f"{'run':9} {'reached':>8} {'median':>8} {'range':>14} {'paper':>7} {'wall s (median)':>16}")
    for name in dict.fromkeys(r["name"] for r in results):
        mine = [r for r in results if r["name"] == name]
        reached = sorted(r["steps_to_95_val"] for r in mine if r["steps_to_95_val"] is not None)
        budget = max(r["steps"] for r in mine)
        ranks = reached + [math.inf] * (len(mine) - len(reached))
        middle = median(ranks)
        shown = f"> {budget}" if math.isinf(middle) else f"{middle:.0f}"
        spread = (f"{reached[0]}-{reached[-1]}" + (f", > {budget}" if len(reached) < len(mine) else "")) if reached else f"> {budget}"
        print(f"{name:9} {len(reached)}/{len(mine):<6} {shown:>8} {spread:>14} {PAPER.get(name, '-'):>7} "
              f"{median([r['wall_s'] for r in mine]):>16.0f}")
    if arguments.json:
        with open(arguments.json, "w") as out:
            json.dump({"torch": torch.__version__, "runs": results}, out, indent=2)


if __name__ == "__main__":
    main()
