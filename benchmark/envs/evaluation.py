"""Policy evaluation in gymnasium MuJoCo: N episodes stepped together, one batched policy call per step."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import mujoco
import numpy as np
import torch

from benchmark.envs.tasks import normalized_score

Policy = Callable[[torch.Tensor], torch.Tensor]  # raw observations [n, obs_dim] -> actions [n, act_dim]


@dataclass(frozen=True)
class EvalResult:
    returns: np.ndarray  # [episodes] undiscounted raw returns
    lengths: np.ndarray  # [episodes]
    scores: np.ndarray  # [episodes] D4RL-normalised, x100

    @property
    def mean_score(self) -> float:
        return float(self.scores.mean())


def route_mujoco_warnings() -> None:
    """MuJoCo's warnings go to the `mujoco` logger instead of a MUJOCO_LOG.TXT in the working folder."""
    mujoco.set_mju_user_warning(lambda message: logging.getLogger("mujoco").warning(message.strip()))


def eval_seeds(run_seed: int, episodes: int) -> list[int]:
    """The same start states at every evaluation of a run; different runs get different ones."""
    return [run_seed * 1000 + i for i in range(episodes)]


@torch.no_grad()
def evaluate(policy: Policy, env_id: str, env_name: str, seeds: list[int], device: torch.device | str = "cpu",
             ) -> EvalResult:
    route_mujoco_warnings()
    envs = [gym.make(env_id) for _ in seeds]
    obs = np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds)]).astype(np.float32)
    returns, lengths = np.zeros(len(envs)), np.zeros(len(envs), dtype=np.int64)
    alive = np.ones(len(envs), dtype=bool)
    while alive.any():
        index = np.flatnonzero(alive)
        actions = policy(torch.as_tensor(obs[index], device=device)).cpu().numpy()
        for i, action in zip(index, actions):
            next_obs, reward, terminated, truncated, _ = envs[i].step(action)
            obs[i] = next_obs
            returns[i] += reward
            lengths[i] += 1
            alive[i] = not (terminated or truncated)
    for env in envs:
        env.close()
    return EvalResult(returns, lengths, np.asarray(normalized_score(env_name, returns)))
