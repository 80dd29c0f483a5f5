"""Model-based value expansion: TD3+BC and IQL whose critic targets run through world-model rollouts.

The same two agents serve DWM (Diffusion-MVE: rollouts of the diffusion world model, read from the rollout
bank) and the one-step baselines (standard MVE: a one-step model rolled out with the policy); only the
`RolloutSource` differs. The actor always trains on real states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch

from algorithms.agent import source
from algorithms.buffer import Batch
from algorithms.iql import IQL
from algorithms.rl_stage import DWM_RL, RLStageIQLConfig, RLStageTD3BCConfig
from algorithms.td3_bc import TD3BC

DWM_H = ("paper: DAWM uses H=7; DWM sweeps H in {1, 3, 5, 7} and reports the best per task, so one fixed H=7 "
         "is DAWM's setting applied to DWM, not DWM's protocol")


@dataclass(frozen=True)
class Rollout:
    states: torch.Tensor  # [B, H, obs] s_{t+1..t+H}, normalised as the agent's inputs
    rewards: torch.Tensor  # [B, H] r_t..r_{t+H-1}, scaled as the agent's rewards
    alive: torch.Tensor  # [B, H + 1] 1 while s_{t+h} is not past a terminal


class RolloutSource(Protocol):
    def __call__(self, batch: Batch, horizon: int) -> Rollout: ...


def mve_target(rewards: torch.Tensor, values: torch.Tensor, alive: torch.Tensor, discount: float,
               lam: float = 1.0) -> torch.Tensor:
    """The lambda-return over n-step targets G_n = sum_{h<n} g^h r_h + g^n V(s_{t+n}), n = 1..H.

    rewards, values [B, H] (values[:, n - 1] at s_{t+n}); alive [B, H + 1]. lam = 1 is vanilla MVE (G_H only):
    (1 - lam) * sum_{n<H} lam^(n-1) G_n + lam^(H-1) G_H. Rewards and values past a terminal count zero.
    """
    horizon = rewards.shape[1]
    powers = discount ** torch.arange(horizon + 1, device=rewards.device, dtype=rewards.dtype)  # [H + 1]
    discounted = powers[:horizon] * alive[:, :horizon] * rewards  # [B, H]
    n_step = discounted.cumsum(dim=1) + powers[1:] * alive[:, 1:] * values  # [B, H]: G_1..G_H
    weights = (1 - lam) * lam ** torch.arange(horizon, device=rewards.device, dtype=rewards.dtype)
    weights[-1] = lam ** (horizon - 1)
    return n_step @ weights


@dataclass(frozen=True)
class MVETD3BCConfig(RLStageTD3BCConfig):
    horizon: int = field(default=7, metadata=source(DWM_H))
    lam: float = field(default=1.0, metadata=source(DWM_RL + ": vanilla Diff-MVE for TD3+BC"))


@dataclass(frozen=True)
class MVEIQLConfig(RLStageIQLConfig):
    horizon: int = field(default=7, metadata=source(DWM_H))
    lam: float = field(default=0.95, metadata=source(DWM_RL + ": lambda-return for DWM-IQL"))


class MVETD3BC(TD3BC):
    """Critic target: MVE over the rollout with min_i Q'_i(s, pi'(s) + clipped noise) as the value."""

    def __init__(self, config: MVETD3BCConfig, obs_dim: int, act_dim: int, device: torch.device | str,
                 total_steps: int, rollouts: RolloutSource, max_action: float = 1.0):
        super().__init__(config, obs_dim, act_dim, device, total_steps, max_action)
        self.rollouts = rollouts

    def critic_target_values(self, batch: Batch) -> torch.Tensor:
        c = self.config
        with torch.no_grad():
            rollout = self.rollouts(batch, c.horizon)
            states = rollout.states if c.lam < 1.0 else rollout.states[:, -1:]  # vanilla: only s_{t+H}
            values = self.target_values(states.flatten(0, 1)).view(states.shape[:2])
            if c.lam == 1.0:
                values = torch.cat([torch.zeros_like(rollout.rewards[:, 1:]), values], dim=1)
            return mve_target(rollout.rewards, values, rollout.alive, c.discount, c.lam)


class MVEIQL(IQL):
    """Q target: MVE over the rollout with V as the value."""

    def __init__(self, config: MVEIQLConfig, obs_dim: int, act_dim: int, device: torch.device | str,
                 total_steps: int, rollouts: RolloutSource, max_action: float = 1.0):
        super().__init__(config, obs_dim, act_dim, device, total_steps, max_action)
        self.rollouts = rollouts

    def q_targets(self, batch: Batch) -> torch.Tensor:
        c = self.config
        with torch.no_grad():
            rollout = self.rollouts(batch, c.horizon)
            values = self.value(rollout.states.flatten(0, 1)).view(rollout.rewards.shape)
            return mve_target(rollout.rewards, values, rollout.alive, c.discount, c.lam)


ONE_STEP_H = ("ours: DWM's one-step baselines peak at H=1-2 and fall as H grows (its Fig. 6.2); DWM reports "
              "the best H of its sweep 1-5 per task")


@dataclass(frozen=True)
class OneStepTD3BCConfig(MVETD3BCConfig):
    horizon: int = field(default=2, metadata=source(ONE_STEP_H))


@dataclass(frozen=True)
class OneStepIQLConfig(MVEIQLConfig):
    horizon: int = field(default=2, metadata=source(ONE_STEP_H))
