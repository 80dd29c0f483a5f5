"""TD3+BC (Fujimoto & Gu, 2021), as CORL implements it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from algorithms.agent import StateDictMixin, source
from algorithms.buffer import Batch
from algorithms.networks import DeterministicActor, TwinQ, soft_update
from algorithms.optim import adam
from algorithms.stacking import Stackable, batch_mean


CORL = "code: CORL algorithms/offline/td3_bc.py + configs/offline/td3_bc"


@dataclass(frozen=True)
class TD3BCConfig:
    batch_size: int = field(default=256, metadata=source(CORL))
    discount: float = field(default=0.99, metadata=source(CORL))
    tau: float = field(default=0.005, metadata=source(CORL))
    policy_noise: float = field(default=0.2, metadata=source(CORL))
    noise_clip: float = field(default=0.5, metadata=source(CORL))
    policy_freq: int = field(default=2, metadata=source(CORL))
    alpha: float = field(default=2.5, metadata=source("paper: TD3+BC; " + CORL))
    actor_lr: float = field(default=3e-4, metadata=source(CORL))
    critic_lr: float = field(default=3e-4, metadata=source(CORL))
    hidden: tuple[int, ...] = field(default=(256, 256), metadata=source(CORL))
    normalize_states: bool = field(default=True, metadata=source(CORL))
    normalize_reward: bool = field(default=False, metadata=source(CORL))


class TD3BC(StateDictMixin, Stackable):
    checkpointed = ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer")
    networks = ("actor", "critic", "actor_target", "critic_target")

    def __init__(self, config: TD3BCConfig, obs_dim: int, act_dim: int, device: torch.device | str,
                 total_steps: int, max_action: float = 1.0):
        self.config, self.max_action, self.device = config, max_action, torch.device(device)
        self.actor = DeterministicActor(obs_dim, act_dim, config.hidden, max_action).to(self.device)
        self.critic = TwinQ(obs_dim, act_dim, config.hidden).to(self.device)
        self.actor_target, self.critic_target = copy.deepcopy(self.actor), copy.deepcopy(self.critic)
        # target policy smoothing draws from its own stream, seeded from the run's initialisation stream
        self.generators = [torch.Generator(self.device).manual_seed(int(torch.randint(2 ** 62, (1,))))]
        self.make_optimizers()
        self.step = 0

    def make_optimizers(self) -> None:
        self.actor_optimizer = adam(self.actor.parameters(), self.config.actor_lr)
        # One Adam over both heads equals CORL's two: Adam is elementwise and the heads share nothing.
        self.critic_optimizer = adam(self.critic.parameters(), self.config.critic_lr)

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        """N(0, 1) shaped like `like`; stacked members each draw theirs from their own stream."""
        if self.members == 1:
            return torch.randn(like.shape, generator=self.generators[0], device=like.device)
        return torch.stack([torch.randn(like.shape[1:], generator=g, device=like.device) for g in self.generators])

    def target_values(self, states: torch.Tensor) -> torch.Tensor:
        """min_i Q'_i(s, clip(pi'(s) + clipped noise)) for states [N, obs] -> [N]; no gradients."""
        c = self.config
        with torch.no_grad():
            action = self.actor_target(states)
            noise = (self._noise(action) * c.policy_noise).clamp(-c.noise_clip, c.noise_clip)
            action = (action + noise * self.max_action).clamp(-self.max_action, self.max_action)
            return torch.min(*self.critic_target(states, action))

    def critic_target_values(self, batch: Batch) -> torch.Tensor:
        """r + gamma * (1 - done) * min_i Q'_i(s', clip(pi'(s') + clipped noise))."""
        return batch.rewards + self.config.discount * (1.0 - batch.dones) * self.target_values(batch.next_observations)

    def actor_loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """-lambda * Q(s, pi(s)) + ||pi(s) - a||^2 with lambda = alpha / mean|Q| (detached)."""
        pi = self.actor(batch.observations)
        q = self.critic(batch.observations, pi)[0]
        lmbda = self.config.alpha / batch_mean(q.abs()).detach()
        return -lmbda * batch_mean(q) + batch_mean((pi - batch.actions).pow(2), event_dims=1), lmbda

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step; the log's scalars stay on the device (no host sync per step)."""
        self.step += 1
        target = self.critic_target_values(batch)
        q1, q2 = self.critic(batch.observations, batch.actions)
        critic_loss = batch_mean((q1 - target).pow(2)) + batch_mean((q2 - target).pow(2))
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.sum().backward()  # one loss per stacked member: their sum backpropagates each unchanged
        self.critic_optimizer.step()
        log = {"critic_loss": critic_loss.detach(), "q1": batch_mean(q1.detach())}
        if self.step % self.config.policy_freq == 0:
            actor_loss, lmbda = self.actor_loss(batch)
            self.actor_optimizer.zero_grad(set_to_none=True)
            actor_loss.sum().backward()
            self.actor_optimizer.step()
            soft_update(self.critic_target, self.critic, self.config.tau)
            soft_update(self.actor_target, self.actor, self.config.tau)
            log |= {"actor_loss": actor_loss.detach(), "lambda": lmbda.detach()}
        return log

    @torch.no_grad()
    def act(self, observations: torch.Tensor) -> torch.Tensor:
        return self.actor.act(observations)
