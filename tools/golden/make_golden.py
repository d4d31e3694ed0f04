#!/usr/bin/env python3
"""Writes the golden traces Grokfast.Tests compares every fused filter with.

An independent reference: the three Grokfast filters written here per parameter with plain PyTorch
tensor ops, in the structure of the published code (gradfilter_ema, gradfilter_ma and the Kalman
filter of pull request #8), run over a fixed-seed sequence of gradients for a few parameters of
awkward sizes. CI does not run this; it is here to regenerate the fixtures and to show where the
numbers came from:

    apt-get install python3-torch python3-numpy
    /usr/bin/python3 tools/golden/make_golden.py Grokfast.Tests/Golden
"""
import json
import sys
from collections import deque
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

STEPS = 200
SHAPES = [(1,), (5, 7), (67,)]


def ema_step(model, state, alpha, lamb):
    if state is None:
        state = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    for n, p in model.named_parameters():
        if p.requires_grad:
            state[n] = state[n] * alpha + p.grad.detach() * (1 - alpha)
            p.grad = p.grad + state[n] * lamb
    return state


def ma_step(model, state, window_size, lamb, filter_type, warmup, trigger):
    if state is None:
        state = {n: deque(maxlen=window_size) for n, p in model.named_parameters() if p.requires_grad}
    for n, p in model.named_parameters():
        if p.requires_grad:
            state[n].append(p.grad.detach().clone())
            if not warmup or (len(state[n]) == window_size and not trigger):
                total = sum(state[n])
                average = total / len(state[n]) if filter_type == "mean" else total
                p.grad = p.grad + average * lamb
    return state


def kalman_step(model, state, process_noise, measurement_noise, lamb):
    if state is None:
        state = {n: {"x": torch.zeros_like(p.grad), "P": torch.full_like(p.grad, measurement_noise)}
                 for n, p in model.named_parameters() if p.requires_grad}
    for n, p in model.named_parameters():
        if p.requires_grad and p.grad is not None:
            s = state[n]
            predicted = s["P"] + process_noise
            gain = predicted / (predicted + measurement_noise)
            s["x"] = s["x"] + gain * (p.grad - s["x"])
            s["P"] = (1 - gain) * predicted
            p.grad = p.grad + s["x"] * lamb
    return state


CASES = {
    "ema_reference_defaults": (ema_step, {"alpha": 0.99, "lamb": 5.0}),
    "ema_paper": (ema_step, {"alpha": 0.98, "lamb": 2.0}),
    "kalman_defaults": (kalman_step, {"process_noise": 1e-4, "measurement_noise": 1e-2, "lamb": 2.0}),
    "kalman_q0": (kalman_step, {"process_noise": 0.0, "measurement_noise": 1e-2, "lamb": 2.0}),
}
for filter_type in ("mean", "sum"):
    for warmup in (True, False):
        for trigger in (True, False):
            name = f"ma_{filter_type}_warmup{int(warmup)}_trigger{int(trigger)}"
            CASES[name] = (ma_step, {"window_size": 50, "lamb": 5.0 if filter_type == "mean" else 0.1,
                                      "filter_type": filter_type, "warmup": warmup, "trigger": trigger})


def gradients(rng, total):
    """A slow drift per element plus fast noise, as gradients over training look."""
    t = np.arange(STEPS, dtype=np.float64)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, total))
    slow = 0.3 * np.sin(2 * np.pi * t / 150 + phase)
    fast = rng.normal(0, 1, size=(STEPS, total))
    return (slow + fast).astype(np.float32)


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    sizes = [int(np.prod(s)) for s in SHAPES]
    raw = gradients(np.random.default_rng(0), sum(sizes))
    np.save(out / "grads.npy", raw)
    manifest = {"steps": STEPS, "shapes": [list(s) for s in SHAPES], "gradients": "grads.npy", "cases": []}
    for name, (step, options) in CASES.items():
        model = nn.Module()
        for i, shape in enumerate(SHAPES):
            model.register_parameter(f"p{i}", nn.Parameter(torch.zeros(shape)))
        state = None
        filtered = np.empty_like(raw)
        for t in range(STEPS):
            offset = 0
            for p, size, shape in zip(model.parameters(), sizes, SHAPES):
                p.grad = torch.from_numpy(raw[t, offset:offset + size].copy()).reshape(shape)
                offset += size
            with torch.no_grad():
                state = step(model, state, **options)
            filtered[t] = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()
        np.save(out / f"{name}.npy", filtered)
        manifest["cases"].append({"name": name, "filter": name.split("_")[0], "options": options, "expected": f"{name}.npy"})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(CASES)} cases of {STEPS} steps x {sum(sizes)} elements to {out} (torch {torch.__version__})")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "Grokfast.Tests/Golden"))
