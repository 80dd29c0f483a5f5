"""The MLPs of the model-free agents (CORL's architectures)."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Normal


def mlp(in_dim: int, out_dim: int, hidden: tuple[int, ...], output_activation: type[nn.Module] | None = None,
        dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    if output_activation is not None:
        layers.append(output_activation())
    return nn.Sequential(*layers)


class DeterministicActor(nn.Module):
    """a = max_action * tanh(MLP(s))."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], max_action: float = 1.0):
        super().__init__()
        self.net = mlp(obs_dim, act_dim, hidden, nn.Tanh)
        self.max_action = max_action

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.max_action * self.net(obs)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self(obs)


class GaussianActor(nn.Module):
    """IQL's policy: Normal(tanh(MLP(s)), exp(log_std)) with a state-independent, clamped log-std."""

    LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], max_action: float = 1.0):
        super().__init__()
        self.net = mlp(obs_dim, act_dim, hidden, nn.Tanh)
        self.log_std = nn.Parameter(torch.zeros(act_dim))
        self.max_action = max_action

    def forward(self, obs: torch.Tensor) -> Normal:
        std = self.log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX).exp()
        return Normal(self.net(obs), std)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return (self.max_action * self(obs).mean).clamp(-self.max_action, self.max_action)


class TwinQ(nn.Module):
    """Two independent Q(s, a) heads; returns both, [B] each."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.q1 = mlp(obs_dim + act_dim, 1, hidden)
        self.q2 = mlp(obs_dim + act_dim, 1, hidden)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, action], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


class ValueNet(nn.Module):
    def __init__(self, obs_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.net = mlp(obs_dim, 1, hidden)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging: target <- (1 - tau) * target + tau * source."""
    for t, s in zip(target.parameters(), source.parameters()):
        t.lerp_(s, tau)
