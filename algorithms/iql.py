"""Implicit Q-Learning (Kostrikov et al., 2022), as CORL implements it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from algorithms.agent import StateDictMixin, source
from algorithms.buffer import Batch
from algorithms.networks import DeterministicActor, GaussianActor, TwinQ, ValueNet, soft_update
from algorithms.optim import adam
from algorithms.stacking import Stackable, batch_mean

CORL = "code: CORL algorithms/offline/iql.py + configs/offline/iql"
CORL_MAX_TIMESTEPS = 1_000_000


@dataclass(frozen=True)
class IQLConfig:
    batch_size: int = field(default=256, metadata=source(CORL))
    discount: float = field(default=0.99, metadata=source(CORL))
    tau: float = field(default=0.005, metadata=source(CORL))  # target-network Polyak rate
    expectile: float = field(default=0.7, metadata=source("paper: IQL; " + CORL))  # CORL's iql_tau
    beta: float = field(default=3.0, metadata=source("paper: IQL; " + CORL))  # inverse temperature
    exp_adv_max: float = field(default=100.0, metadata=source(CORL))
    deterministic_actor: bool = field(default=False, metadata=source(CORL))
    actor_lr: float = field(default=3e-4, metadata=source(CORL))
    # CORL anneals the actor's lr with a cosine over `max_timesteps`, its run length (1M). We keep the rule,
    # over our run's agent steps, so every profile ends at lr 0 as CORL's runs do; with `False` the actor
    # would stop at 1/10 (quick) of the way down CORL's 1M-step curve, a schedule no paper ran.
    anneal_actor_lr_over_run: bool = field(default=True, metadata=source(
        CORL + ": CosineAnnealingLR(actor, max_timesteps), max_timesteps = the run's steps"))
    critic_lr: float = field(default=3e-4, metadata=source(CORL))
    value_lr: float = field(default=3e-4, metadata=source(CORL))
    hidden: tuple[int, ...] = field(default=(256, 256), metadata=source(CORL))
    normalize_states: bool = field(default=True, metadata=source(CORL))
    normalize_reward: bool = field(default=False, metadata=source(CORL))


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """mean(|expectile - 1[diff < 0]| * diff^2): an asymmetric L2 that fits an upper expectile."""
    weight = torch.abs(expectile - (diff < 0).float())
    return batch_mean(weight * diff.pow(2))


class IQL(StateDictMixin, Stackable):
    checkpointed = ("actor", "critic", "critic_target", "value", "actor_optimizer", "critic_optimizer",
                    "value_optimizer", "actor_schedule")
    networks = ("actor", "critic", "critic_target", "value")

    def __init__(self, config: IQLConfig, obs_dim: int, act_dim: int, device: torch.device | str,
                 total_steps: int, max_action: float = 1.0):
        self.config, self.device = config, torch.device(device)
        actor_class = DeterministicActor if config.deterministic_actor else GaussianActor
        self.actor = actor_class(obs_dim, act_dim, config.hidden, max_action).to(self.device)
        self.critic = TwinQ(obs_dim, act_dim, config.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic)
        self.value = ValueNet(obs_dim, config.hidden).to(self.device)
        self.schedule_steps = total_steps if config.anneal_actor_lr_over_run else CORL_MAX_TIMESTEPS
        self.make_optimizers()
        self.step = 0

    def make_optimizers(self) -> None:
        self.actor_optimizer = adam(self.actor.parameters(), self.config.actor_lr)
        self.critic_optimizer = adam(self.critic.parameters(), self.config.critic_lr)
        self.value_optimizer = adam(self.value.parameters(), self.config.value_lr)
        self.actor_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.actor_optimizer, self.schedule_steps)

    def value_loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Expectile regression of V(s) onto min_i Q'_i(s, a); also returns the advantage."""
        with torch.no_grad():
            target_q = torch.min(*self.critic_target(batch.observations, batch.actions))
        advantage = target_q - self.value(batch.observations)
        return expectile_loss(advantage, self.config.expectile), advantage

    def q_targets(self, batch: Batch) -> torch.Tensor:
        """r + gamma * (1 - done) * V(s'), with V before this step's update."""
        with torch.no_grad():
            return batch.rewards + self.config.discount * (1.0 - batch.dones) * self.value(batch.next_observations)

    def actor_loss(self, batch: Batch, advantage: torch.Tensor) -> torch.Tensor:
        """Advantage-weighted regression: mean(min(exp(beta * A), max) * behaviour-cloning loss)."""
        weight = torch.exp(self.config.beta * advantage.detach()).clamp(max=self.config.exp_adv_max)
        if self.config.deterministic_actor:
            bc = (self.actor(batch.observations) - batch.actions).pow(2).sum(-1)
        else:
            bc = -self.actor(batch.observations).log_prob(batch.actions).sum(-1)
        return batch_mean(weight * bc)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step; the log's scalars stay on the device (no host sync per step)."""
        self.step += 1
        targets = self.q_targets(batch)
        value_loss, advantage = self.value_loss(batch)
        self.value_optimizer.zero_grad(set_to_none=True)
        value_loss.sum().backward()  # one loss per stacked member: their sum backpropagates each unchanged
        self.value_optimizer.step()

        q1, q2 = self.critic(batch.observations, batch.actions)
        critic_loss = (batch_mean((q1 - targets).pow(2)) + batch_mean((q2 - targets).pow(2))) / 2
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.sum().backward()
        self.critic_optimizer.step()
        soft_update(self.critic_target, self.critic, self.config.tau)

        actor_loss = self.actor_loss(batch, advantage)
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.sum().backward()
        self.actor_optimizer.step()
        self.actor_schedule.step()
        return {"value_loss": value_loss.detach(), "critic_loss": critic_loss.detach(), "q1": batch_mean(q1.detach()),
                "actor_loss": actor_loss.detach(), "advantage": batch_mean(advantage.detach())}

    @torch.no_grad()
    def act(self, observations: torch.Tensor) -> torch.Tensor:
        return self.actor.act(observations)
