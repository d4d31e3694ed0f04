#!/usr/bin/env python3
"""Writes docs/demo-trace.npy, the (300, 8) float32 trace behind README's response plot:
a slow sine per element (period 150 steps) under fast Gaussian noise."""
import numpy as np

rng = np.random.default_rng(1)
t = np.arange(300)[:, None]
trace = np.sin(2 * np.pi * t / 150 + rng.uniform(0, 2 * np.pi, (1, 8))) + rng.normal(0, 1.0, (300, 8))
np.save("docs/demo-trace.npy", trace.astype(np.float32))
