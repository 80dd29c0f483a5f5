"""The replay buffer shared by every agent: tensors on the compute device, index sampling there too."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Batch:
    observations: torch.Tensor  # [B, obs_dim]
    actions: torch.Tensor  # [B, act_dim]
    rewards: torch.Tensor  # [B]
    next_observations: torch.Tensor  # [B, obs_dim]
    dones: torch.Tensor  # [B] 1.0 at true terminals: no bootstrapping
    rows: torch.Tensor | None = None  # [B] long: the buffer rows sampled (rollout-bank lookups)


class ReplayBuffer:
    """Holds (already normalised) transitions on `device`; sampling never leaves the device."""

    def __init__(self, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                 next_observations: np.ndarray, dones: np.ndarray, device: torch.device | str):
        self.device = torch.device(device)

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

        self.observations, self.actions = tensor(observations), tensor(actions)
        self.rewards, self.next_observations, self.dones = tensor(rewards), tensor(next_observations), tensor(dones)
        self.size = len(self.observations)

    @classmethod
    def empty(cls, capacity: int, obs_dim: int, act_dim: int, device: torch.device | str) -> ReplayBuffer:
        """A buffer that fills up with `add` (online training); samples come from the filled part."""
        buffer = cls(np.zeros((capacity, obs_dim)), np.zeros((capacity, act_dim)), np.zeros(capacity),
                     np.zeros((capacity, obs_dim)), np.zeros(capacity), device)
        buffer.size = 0
        return buffer

    def add(self, observation: torch.Tensor, action: torch.Tensor, reward: float, next_observation: torch.Tensor,
            done: bool) -> None:
        i = self.size
        self.observations[i], self.actions[i], self.next_observations[i] = observation, action, next_observation
        self.rewards[i], self.dones[i] = reward, float(done)
        self.size += 1

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        index = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return Batch(self.observations[index], self.actions[index], self.rewards[index],
                     self.next_observations[index], self.dones[index], index)


class MixedSampler:
    """Batches with a fixed share of real transitions, the rest synthetic (DAWM's training data)."""

    def __init__(self, real: ReplayBuffer, synthetic: ReplayBuffer, real_ratio: float):
        if not 0.0 <= real_ratio <= 1.0:
            raise ValueError(f"real_ratio must be in [0, 1], got {real_ratio}")
        self.real, self.synthetic, self.real_ratio = real, synthetic, real_ratio

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        n_real = round(batch_size * self.real_ratio)
        parts = [self.real.sample(n_real, generator), self.synthetic.sample(batch_size - n_real, generator)]
        return Batch(*(torch.cat([getattr(p, name) for p in parts]) for name in
                       ("observations", "actions", "rewards", "next_observations", "dones")))
