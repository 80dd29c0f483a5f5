"""Tiny datasets from a uniform-random policy, built in seconds, for tests and the smoke suite."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from benchmark.data.minari_io import (Episode, EpisodeWriter, build_lock, dataset_exists, local_dataset_id,
                                      write_dataset)
from benchmark.envs.tasks import ENVS, TINY_DATASET

TINY_TRANSITIONS = 5000


def collect_random_episodes(env_name: str, n_transitions: int, seed: int = 0) -> list[Episode]:
    """Episodes of uniform-random actions; the last one is cut (truncated) at exactly n_transitions."""
    info = ENVS[env_name]
    env = gym.make(info.gym_id)
    rng = np.random.default_rng(seed)
    episodes, writer, total = [], None, 0
    while total < n_transitions:
        if writer is None:
            episode_seed = seed * 100_000 + len(episodes)
            writer = EpisodeWriter(env.reset(seed=episode_seed)[0].astype(np.float32), episode_seed)
        action = rng.uniform(-1.0, 1.0, info.act_dim).astype(np.float32)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += 1
        writer.add(action, float(reward), obs.astype(np.float32), terminated, truncated)
        if terminated or truncated or total == n_transitions:
            episodes.append(writer.close())
            writer = None
    env.close()
    return episodes


def build_tiny_dataset(env_name: str, n_transitions: int = TINY_TRANSITIONS, seed: int = 0) -> str:
    """Build local_dataset_id(env, "tiny") unless it exists; returns its id."""
    dataset_id = local_dataset_id(env_name, TINY_DATASET)
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
