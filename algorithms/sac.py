"""Soft Actor-Critic with automatic temperature (Haarnoja et al., 2018): the D4RL behaviour-policy learner."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from algorithms.agent import StateDictMixin, source
from algorithms.buffer import Batch
from algorithms.networks import TwinQ, mlp, soft_update
from algorithms.portable import portable_tanh_gaussian_action

SAC_PAPER = "paper: SAC (Haarnoja et al., 2018), D4RL's behaviour-policy learner"


@dataclass(frozen=True)
class SACConfig:
    batch_size: int = field(default=256, metadata=source(SAC_PAPER))
    discount: float = field(default=0.99, metadata=source(SAC_PAPER))
    tau: float = field(default=0.005, metadata=source(SAC_PAPER))
    lr: float = field(default=3e-4, metadata=source(SAC_PAPER))
    hidden: tuple[int, ...] = field(default=(256, 256), metadata=source(SAC_PAPER))


LOG_STD_RANGE = (-20.0, 2.0)


class TanhGaussianActor(nn.Module):
    """a = tanh(u), u ~ N(mu(s), sigma(s)); log-std clamped to LOG_STD_RANGE."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.net = mlp(obs_dim, 2 * act_dim, hidden)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(obs).chunk(2, dim=-1)
        return mean, log_std.clamp(*LOG_STD_RANGE)

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None,
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action and its log-probability, [B, act_dim] and [B]."""
        mean, log_std = self(obs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        u = mean + log_std.exp() * noise
        gaussian = -0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
        # log det of tanh's Jacobian, in the numerically stable form 2 (log 2 - u - softplus(-2u))
        squash = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
        return torch.tanh(u), (gaussian - squash).sum(-1)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self(obs)[0])

    def sample_portable(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """An action [B, act_dim] with the same bits on every CPU (algorithms/portable.py): what generates the
        datasets, so that a rebuild anywhere reproduces them."""
        return portable_tanh_gaussian_action(self.net, obs, generator, LOG_STD_RANGE)


class SAC(StateDictMixin):
    checkpointed = ("actor", "critic", "critic_target", "actor_optimizer", "critic_optimizer", "alpha_optimizer")

    def __init__(self, config: SACConfig, obs_dim: int, act_dim: int, device: torch.device | str = "cpu"):
        self.config, self.device = config, torch.device(device)
        self.actor = TanhGaussianActor(obs_dim, act_dim, config.hidden).to(self.device)
        self.critic = TwinQ(obs_dim, act_dim, config.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic)
        self.log_alpha = torch.zeros(1, device=self.device, requires_grad=True)
        self.target_entropy = -float(act_dim)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.lr)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=config.lr)
        self.step = 0

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        self.step += 1
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(batch.next_observations)
            next_q = torch.min(*self.critic_target(batch.next_observations, next_action)) - alpha * next_log_prob
            target = batch.rewards + self.config.discount * (1.0 - batch.dones) * next_q
        q1, q2 = self.critic(batch.observations, batch.actions)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()

        action, log_prob = self.actor.sample(batch.observations)
        actor_loss = (alpha * log_prob - torch.min(*self.critic(batch.observations, action))).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        self.alpha_optimizer.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_optimizer.step()
        soft_update(self.critic_target, self.critic, self.config.tau)
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "alpha": alpha}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "log_alpha": self.log_alpha.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])

    @torch.no_grad()
    def act(self, observations: torch.Tensor) -> torch.Tensor:
        return self.actor.act(observations)
