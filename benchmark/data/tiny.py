"""Tiny datasets from a uniform-random policy, built in seconds, for tests and the smoke suite."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from benchmark.data.minari_io import Episode, build_lock, dataset_exists, write_dataset
from benchmark.tasks import ENVS

TINY_TRANSITIONS = 5000


def tiny_dataset_id(env: str) -> str:
    return f"local/{env}/tiny-v0"


def collect_random_episodes(env_name: str, n_transitions: int, seed: int = 0) -> list[Episode]:
    """Episodes of uniform-random actions; the last one is cut (truncated) at exactly n_transitions."""
    info = ENVS[env_name]
    env = gym.make(info.gym_id)
    rng = np.random.default_rng(seed)
    episodes, total = [], 0
    while total < n_transitions:
        episode_seed = seed * 100_000 + len(episodes)
        obs, _ = env.reset(seed=episode_seed)
        observations, actions, rewards, terms, truncs = [obs], [], [], [], []
        while True:
            action = rng.uniform(-1.0, 1.0, info.act_dim).astype(np.float32)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += 1
            truncated = truncated or total == n_transitions
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            terms.append(terminated)
            truncs.append(truncated and not terminated)
            if terminated or truncated:
                break
        episodes.append(Episode(np.asarray(observations), np.asarray(actions), np.asarray(rewards),
                                np.asarray(terms), np.asarray(truncs), episode_seed))
    env.close()
    return episodes


def build_tiny_dataset(env_name: str, n_transitions: int = TINY_TRANSITIONS, seed: int = 0) -> str:
    """Build local/<env>/tiny-v0 unless it exists; returns its id."""
    dataset_id = tiny_dataset_id(env_name)
    with build_lock():
        if not dataset_exists(dataset_id):
            info = ENVS[env_name]
            write_dataset(
                dataset_id, collect_random_episodes(env_name, n_transitions, seed), info.gym_id,
                ref_min_score=info.ref_min_score, ref_max_score=info.ref_max_score,
                algorithm_name="uniform random policy",
                description=(f"{n_transitions} transitions of a uniform-random policy on {info.gym_id}, "
                             f"seed {seed}. For tests and the smoke suite only; scores use D4RL's constants."),
            )
    return dataset_id
