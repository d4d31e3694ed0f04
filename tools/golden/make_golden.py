#!/usr/bin/env python3
"""Writes the golden traces Grokfast.Tests compares every fused filter and fused optimizer with.

An independent reference: the three Grokfast filters written here per parameter with plain PyTorch
tensor ops, in the structure of the published code (gradfilter_ema, gradfilter_ma and the Kalman
filter of pull request #8), run over a fixed-seed sequence of gradients for a few parameters of
awkward sizes; and each filter (or none) followed by torch.optim.Adam or AdamW over the same gradients,
recording the parameters after every step and the moments and the filter's state after the last; and two
half-precision cases, computed in float32 from the 16-bit inputs and rounded (write_half_cases).
CI does not run this; it is here to regenerate the fixtures and to show where the numbers came from:

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


OPTIMIZER_STEPS = 120
ADAM = {"lr": 1e-2, "betas": (0.9, 0.98), "eps": 1e-8, "weight_decay": 0.01}
OPTIMIZER_CASES = {
    "none": (None, {}),
    "ema": (ema_step, {"alpha": 0.98, "lamb": 2.0}),
    "ma": (ma_step, {"window_size": 50, "lamb": 5.0, "filter_type": "mean", "warmup": True, "trigger": False}),
    "kalman": (kalman_step, {"process_noise": 1e-4, "measurement_noise": 1e-2, "lamb": 2.0}),
}


def filter_state(name, state):
    """The filter's state flat in the parameters' order, where it is comparable with ours (the MA's ring is not)."""
    if name == "ema":
        return torch.cat([v.reshape(-1) for v in state.values()]).numpy()
    if name == "kalman":
        return torch.cat([v["x"].reshape(-1) for v in state.values()]).numpy()
    return None


def write_optimizer_cases(out, raw, sizes, manifest):
    initial = np.random.default_rng(1).normal(0, 0.5, size=sum(sizes)).astype(np.float32)
    np.save(out / "optimizer_initial.npy", initial)
    manifest["optimizer_steps"] = OPTIMIZER_STEPS
    manifest["optimizer_initial"] = "optimizer_initial.npy"
    manifest["adam"] = {"lr": ADAM["lr"], "beta1": ADAM["betas"][0], "beta2": ADAM["betas"][1], "eps": ADAM["eps"],
                        "weight_decay": ADAM["weight_decay"]}
    manifest["optimizer_cases"] = []
    for optimizer_name, optimizer_class in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        for filter_name, (step, options) in OPTIMIZER_CASES.items():
            model = nn.Module()
            offset = 0
            for i, (shape, size) in enumerate(zip(SHAPES, sizes)):
                values = torch.from_numpy(initial[offset:offset + size].copy()).reshape(shape)
                model.register_parameter(f"p{i}", nn.Parameter(values))
                offset += size
            optimizer = optimizer_class(model.parameters(), lr=ADAM["lr"], betas=ADAM["betas"], eps=ADAM["eps"],
                                        weight_decay=ADAM["weight_decay"], foreach=False)
            state = None
            parameters = np.empty((OPTIMIZER_STEPS, sum(sizes)), dtype=np.float32)
            for t in range(OPTIMIZER_STEPS):
                offset = 0
                for p, size, shape in zip(model.parameters(), sizes, SHAPES):
                    p.grad = torch.from_numpy(raw[t, offset:offset + size].copy()).reshape(shape)
                    offset += size
                with torch.no_grad():
                    if step is not None:
                        state = step(model, state, **options)
                optimizer.step()
                parameters[t] = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
            name = f"{optimizer_name}_{filter_name}"
            np.save(out / f"{name}_parameters.npy", parameters)
            moments = {key: torch.cat([optimizer.state[p][key].reshape(-1) for p in model.parameters()]).numpy()
                       for key in ("exp_avg", "exp_avg_sq")}
            np.save(out / f"{name}_exp_avg.npy", moments["exp_avg"])
            np.save(out / f"{name}_exp_avg_sq.npy", moments["exp_avg_sq"])
            case = {"name": name, "optimizer": optimizer_name, "filter": filter_name, "options": options,
                    "parameters": f"{name}_parameters.npy", "exp_avg": f"{name}_exp_avg.npy",
                    "exp_avg_sq": f"{name}_exp_avg_sq.npy", "filter_state": None}
            flat_state = filter_state(filter_name, state)
            if flat_state is not None:
                np.save(out / f"{name}_filter_state.npy", flat_state)
                case["filter_state"] = f"{name}_filter_state.npy"
            manifest["optimizer_cases"].append(case)


def write_half_cases(out, raw, sizes, manifest):
    """Half precision: the float32 computation on the widened 16-bit inputs, rounded once at the end (torch's own
    round-to-nearest-even conversions) — the EMA filter on float16 gradients, and AdamW with the EMA on bfloat16
    parameters through float32 master weights."""
    half_grads = torch.from_numpy(raw).half()
    np.save(out / "grads_float16.npy", half_grads.numpy())
    options = {"alpha": 0.98, "lamb": 2.0}
    model = nn.Module()
    for i, shape in enumerate(SHAPES):
        model.register_parameter(f"p{i}", nn.Parameter(torch.zeros(shape)))
    state = None
    filtered = np.empty(raw.shape, dtype=np.float16)
    for t in range(STEPS):
        offset = 0
        for p, size, shape in zip(model.parameters(), sizes, SHAPES):
            p.grad = half_grads[t, offset:offset + size].float().reshape(shape)
            offset += size
        with torch.no_grad():
            state = ema_step(model, state, **options)
        filtered[t] = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).half().numpy()
    np.save(out / "half_ema_paper_float16.npy", filtered)

    initial = np.load(out / "optimizer_initial.npy")
    masters = torch.from_numpy(initial).bfloat16().float()
    model = nn.Module()
    offset = 0
    for i, (shape, size) in enumerate(zip(SHAPES, sizes)):
        model.register_parameter(f"p{i}", nn.Parameter(masters[offset:offset + size].clone().reshape(shape)))
        offset += size
    optimizer = torch.optim.AdamW(model.parameters(), lr=ADAM["lr"], betas=ADAM["betas"], eps=ADAM["eps"],
                                  weight_decay=ADAM["weight_decay"], foreach=False)
    state = None
    parameters = np.empty((OPTIMIZER_STEPS, sum(sizes)), dtype=np.float32)
    for t in range(OPTIMIZER_STEPS):
        offset = 0
        for p, size, shape in zip(model.parameters(), sizes, SHAPES):
            p.grad = torch.from_numpy(raw[t, offset:offset + size].copy()).bfloat16().float().reshape(shape)
            offset += size
        with torch.no_grad():
            state = ema_step(model, state, **options)
        optimizer.step()
        # The bfloat16 parameters, each its master rounded; stored widened (numpy has no bfloat16).
        parameters[t] = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).bfloat16().float().numpy()
    np.save(out / "half_adamw_ema_bfloat16_parameters.npy", parameters)
    np.save(out / "half_adamw_ema_bfloat16_master.npy", torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy())
    manifest["half"] = {"gradients": "grads_float16.npy", "ema_options": options,
                        "ema_float16": "half_ema_paper_float16.npy",
                        "adamw_ema_bfloat16_parameters": "half_adamw_ema_bfloat16_parameters.npy",
                        "adamw_ema_bfloat16_master": "half_adamw_ema_bfloat16_master.npy"}


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
    write_optimizer_cases(out, raw, sizes, manifest)
    write_half_cases(out, raw, sizes, manifest)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(CASES)} filter cases and {len(manifest['optimizer_cases'])} optimizer cases of {STEPS} steps x {sum(sizes)} elements to {out} (torch {torch.__version__})")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "Grokfast.Tests/Golden"))
