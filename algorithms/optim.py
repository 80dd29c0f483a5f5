"""The one optimiser every learned network of the suite uses (the behaviour-policy SAC keeps torch's default)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

OPTIMIZER = "adam-fused"  # part of every cached model's key: a change of optimiser retrains them


def adam(parameters: Iterable[torch.Tensor], lr: float) -> torch.optim.Adam:
    """Adam with torch's fused kernel: the same update in one pass over all tensors. It matters on a CPU, where
    the default loops over tensors one at a time: the world model's optimiser step takes 1.2 ms instead of 6.4
    (160 tensors; results/performance.md). Results differ from the loop's only by float rounding."""
    return torch.optim.Adam(parameters, lr=lr, fused=True)
