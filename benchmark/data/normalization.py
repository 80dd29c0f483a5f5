"""Normalisers computed once from the dataset and stored with every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from benchmark.data.transitions import Transitions


@dataclass(frozen=True)
class StateNormalizer:
    """z-score of states with CORL's rule: std + eps, eps = 1e-3."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, observations: np.ndarray, eps: float = 1e-3) -> StateNormalizer:
        return cls(tuple(observations.mean(0).tolist()), tuple((observations.std(0) + eps).tolist()))

    @classmethod
    def identity(cls, obs_dim: int) -> StateNormalizer:
        return cls((0.0,) * obs_dim, (1.0,) * obs_dim)

    def __call__(self, x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        if isinstance(x, torch.Tensor):
            mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
            std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device)
            return (x - mean) / std
        return ((x - np.asarray(self.mean)) / np.asarray(self.std)).astype(x.dtype)

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device)
        return x * std + mean

    def to_dict(self) -> dict:
        return asdict(self)


def reward_scale(transitions: Transitions) -> float:
    """CORL's IQL reward normalisation: 1000 / (max - min) of the dataset's episode returns."""
    returns = transitions.episode_returns()
    spread = float(returns.max() - returns.min())
    if spread <= 0:
        raise ValueError("reward normalisation needs episodes with different returns")
    return 1000.0 / spread
