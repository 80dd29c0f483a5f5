"""Inverse dynamics f(a_t | s_{t-m..t-1}, s_t, s_{t+1}): DAWM's diagonal Gaussian fit by likelihood, or
Decision Diffuser's regression (m = 0, MSE on the mean)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from algorithms.agent import source
from algorithms.diffusion.normalizer import make_normalizer
from algorithms.networks import mlp
from algorithms.optim import adam


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
    squash: bool = field(default=True, metadata=source("ours: the mean is tanh-squashed into the action bounds"))
    action_normalizer: str | None = field(default=None, metadata=source("ours: raw actions, already in [-1, 1]"))
    state_inputs: str = field(default="zscore", metadata=source(
        "ours: states z-scored with the agent's normaliser (the plan model's own for Decision Diffuser: 'plan')"))

    def __post_init__(self):
        if self.objective not in ("gaussian_nll", "mse"):
            raise ValueError(f"objective must be gaussian_nll or mse, got {self.objective!r}")
        if self.state_inputs not in ("zscore", "plan"):
            raise ValueError(f"state_inputs must be zscore or plan, got {self.state_inputs!r}")


class InverseDynamics(nn.Module):
    """Inputs are normalised states [B, m + 2, obs] (history, current, next); the mean is the inferred action.

    With an action normaliser (fitted to `actions` [N, act]), the network regresses normalised actions and
    `infer` maps them back.
    """

    def __init__(self, config: InverseDynamicsConfig, obs_dim: int, act_dim: int, max_action: float = 1.0,
                 actions=None):
        super().__init__()
        self.config, self.max_action = config, max_action
        self.net = mlp((config.history + 2) * obs_dim, 2 * act_dim, config.hidden, dropout=config.dropout)
        self.action_normalizer = (make_normalizer(config.action_normalizer, actions) if config.action_normalizer
                                  else None)
        self.optimizer = adam(self.net.parameters(), config.lr)
        self.step = 0

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """states [B, m + 2, obs] -> mean [B, act] (normalised if actions are), variance [B, act]."""
        mean, log_std = self.net(states.flatten(1)).chunk(2, dim=-1)
        log_std = log_std.clamp(self.config.log_std_min, self.config.log_std_max)
        return (self.max_action * torch.tanh(mean) if self.config.squash else mean), (2 * log_std).exp()

    def _targets(self, actions: torch.Tensor) -> torch.Tensor:
        return actions if self.action_normalizer is None else self.action_normalizer(actions)

    def nll(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per action dimension (constant term included)."""
        mean, variance = self(states)
        return F.gaussian_nll_loss(mean, self._targets(actions), variance, full=True)

    def update(self, states: torch.Tensor, actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """actions [B, act] raw."""
        if self.config.objective == "mse":
            loss = F.mse_loss(self(states)[0], self._targets(actions))
        else:
            loss = self.nll(states, actions)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {self.config.objective: loss.detach()}

    @torch.no_grad()
    def infer(self, states: torch.Tensor) -> torch.Tensor:
        """The mean action, raw."""
        mean = self(states)[0]
        return mean if self.action_normalizer is None else self.action_normalizer.invert(mean)
