"""The MuJoCo oracle: put the simulator in a given observation and apply an action.

Locomotion observations are qpos without the x position, then qvel. x only shifts the body, so it is set to 0;
the reward's forward velocity is a difference of x and does not depend on it. Hopper and Walker2d observe qvel
clipped to [-10, 10], so a state with a velocity at the bound cannot be restored: `restorable` says which can
(on our medium data 9% of hopper's states and 42% of walker2d's have one; the rest replay exactly, to 1e-3).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

OBSERVED_VELOCITY_CLIP = {"hopper": 10.0, "walker2d": 10.0}  # gymnasium v5's _get_obs


class Simulator:
    def __init__(self, env_id: str, env_name: str):
        self.env = gym.make(env_id).unwrapped  # no time limit or order checks: every step starts from set_state
        self.env.reset(seed=0)
        self.n_positions = self.env.model.nq - 1  # observed positions: qpos[1:]
        self.velocity_clip = OBSERVED_VELOCITY_CLIP.get(env_name)

    def restorable(self, observations: np.ndarray) -> np.ndarray:
        """[N, obs] -> [N] bool: no observed velocity sits at the observation's clip bound."""
        if self.velocity_clip is None:
            return np.ones(len(observations), dtype=bool)
        return (np.abs(observations[:, self.n_positions:]) < self.velocity_clip - 1e-4).all(1)

    def set_observation(self, observation: np.ndarray) -> None:
        qpos = np.concatenate([[0.0], observation[: self.n_positions]])
        self.env.set_state(qpos, observation[self.n_positions:])

    def step(self, observations: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """observations [N, obs], actions [N, act] -> the simulated next observations [N, obs], rewards [N]."""
        next_observations = np.empty_like(observations, dtype=np.float64)
        rewards = np.empty(len(observations))
        for i, (observation, action) in enumerate(zip(observations, actions)):
            self.set_observation(observation.astype(np.float64))
            next_observations[i], rewards[i], *_ = self.env.step(action.astype(np.float64))
        return next_observations.astype(np.float32), rewards.astype(np.float32)

    def close(self) -> None:
        self.env.close()
