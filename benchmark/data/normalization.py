"""Normalisers computed once from the dataset and stored with every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from benchmark.data.transitions import Transitions


@dataclass(frozen=True)
class StateNormalizer:
    """z-score of states, as CORL's compute_mean_std: the mean and (population) std + 1e-3 of the dataset's
    observations. On D4RL files the rows are qlearning_dataset's (benchmark/data/d4rl_hdf5.py), so the
    statistics equal CORL's exactly."""

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


MAX_EPISODE_STEPS = 1000  # the locomotion tasks' time limit, CORL's max_episode_steps


def reward_scale(transitions: Transitions, windows: str = "episodes") -> float:
    """IQL's reward normalisation (CORL's modify_reward): rewards x 1000 / (max - min) of the data's returns.

    windows="corl": CORL's return_reward_range over the rows qlearning_dataset keeps: a window ends at a
    terminal or after 1000 rows, and the trailing unterminated window is ignored. Because qlearning_dataset
    drops every timeout row, a 1000-step episode keeps 999 rows and its window runs into the next episode;
    we reproduce that on D4RL files so the scale equals CORL's.
    windows="episodes": episodic data (Minari, local) has true boundaries; returns of complete episodes only
    (ended by a terminal or the time limit), leaving out episodes cut by the end of the data or a resumed
    collection.
    """
    if windows == "corl":
        returns, running, length = [], 0.0, 0
        for reward, terminal in zip(transitions.rewards.astype(np.float64), transitions.terminals):
            running, length = running + reward, length + 1
            if terminal or length == MAX_EPISODE_STEPS:
                returns.append(running)
                running, length = 0.0, 0
        returns = np.asarray(returns)
    elif windows == "episodes":
        starts, ends = transitions.episode_bounds()
        complete = transitions.terminals[ends - 1] | (ends - starts >= MAX_EPISODE_STEPS)
        returns = transitions.episode_returns()[complete]
    else:
        raise ValueError(f"windows must be 'corl' or 'episodes', got {windows!r}")
    if len(returns) < 2 or returns.max() <= returns.min():
        raise ValueError("reward normalisation needs complete episodes with different returns")
    return MAX_EPISODE_STEPS / float(returns.max() - returns.min())
