"""Inverse dynamics f(a_t | s_{t-m..t-1}, s_t, s_{t+1}): DAWM's diagonal Gaussian fit by likelihood, or
Decision Diffuser's regression (m = 0, MSE on the mean)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from algorithms.agent import source
from algorithms.networks import mlp


@dataclass(frozen=True)
class InverseDynamicsConfig:
    history: int = field(default=1, metadata=source("ours: DAWM conditions on m past states, m unknown"))
    hidden: tuple[int, ...] = field(default=(512, 512), metadata=source("paper: DD App. B (2 x 512 IDM)"))
    lr: float = field(default=3e-4, metadata=source("ours"))
    batch_size: int = field(default=256, metadata=source("ours"))
    log_std_min: float = field(default=-5.0, metadata=source("ours"))
    log_std_max: float = field(default=1.0, metadata=source("ours"))
    dropout: float = field(default=0.0, metadata=source("ours"))
    objective: str = field(default="gaussian_nll", metadata=source("paper: DAWM (diagonal-Gaussian IDM)"))

    def __post_init__(self):
        if self.objective not in ("gaussian_nll", "mse"):
            raise ValueError(f"objective must be gaussian_nll or mse, got {self.objective!r}")


class InverseDynamics(nn.Module):
    """Inputs are normalised states [B, m + 2, obs] (history, current, next); the mean is the inferred action."""

    def __init__(self, config: InverseDynamicsConfig, obs_dim: int, act_dim: int, max_action: float = 1.0):
        super().__init__()
        self.config, self.max_action = config, max_action
        self.net = mlp((config.history + 2) * obs_dim, 2 * act_dim, config.hidden, dropout=config.dropout)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.step = 0

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """states [B, m + 2, obs] -> mean [B, act] (inside the action bounds), variance [B, act]."""
        mean, log_std = self.net(states.flatten(1)).chunk(2, dim=-1)
        log_std = log_std.clamp(self.config.log_std_min, self.config.log_std_max)
        return self.max_action * torch.tanh(mean), (2 * log_std).exp()

    def nll(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per action dimension (constant term included)."""
        mean, variance = self(states)
        return F.gaussian_nll_loss(mean, actions, variance, full=True)

    def update(self, states: torch.Tensor, actions: torch.Tensor) -> dict[str, float]:
        if self.config.objective == "mse":
            loss = F.mse_loss(self(states)[0], actions)
        else:
            loss = self.nll(states, actions)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {self.config.objective: loss.item()}

    @torch.no_grad()
    def infer(self, states: torch.Tensor) -> torch.Tensor:
        return self(states)[0]
