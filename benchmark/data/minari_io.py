"""Reading Minari datasets into flat transitions, and writing episodes as Minari datasets (no jax)."""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from benchmark.data.transitions import Transitions

DEFAULT_DATASETS_PATH = Path("~") / ".minari" / "datasets"  # Minari's own default: nothing in the working folder


def datasets_root() -> Path:
    """Where Minari datasets live: $MINARI_DATASETS_PATH, else Minari's default ~/.minari/datasets."""
    root = Path(os.environ.setdefault("MINARI_DATASETS_PATH", str(DEFAULT_DATASETS_PATH.expanduser())))
    root.mkdir(parents=True, exist_ok=True)
    return root


# The version of our datasets' ids; a change to how they are generated bumps it, so that no one keeps an older
# build. 1: the behaviour policies act through algorithms/portable.py, the same bits on every CPU (0 used torch's
# CPU kernels, whose last bit depends on the processor: a rebuild on another CPU gave another dataset).
LOCAL_DATASET_VERSION = 1


def local_dataset_id(env: str, name: str) -> str:
    """The project's own datasets live in the `local` namespace, so they never shadow Minari's ids."""
    return f"local/{env}/{name}-v{LOCAL_DATASET_VERSION}"


def dataset_exists(dataset_id: str) -> bool:
    return (datasets_root() / dataset_id / "data" / "metadata.json").is_file()


def dataset_caveats(dataset_id: str) -> tuple[str, ...] | None:
    """Where a local dataset misses its recipe's targets, as its builder recorded; None where it recorded
    nothing (datasets from elsewhere, or built before builds recorded it)."""
    metadata = json.loads((datasets_root() / dataset_id / "data" / "metadata.json").read_text())
    caveats = metadata.get("dawm_bench", {}).get("caveats")
    return None if caveats is None else tuple(caveats)


def read_transitions(dataset_id: str) -> Transitions:
    """Flat transitions of a local Minari dataset. Truncations become timeouts (see transitions.py)."""
    import minari

    datasets_root()
    dataset = minari.load_dataset(dataset_id)
    parts = {k: [] for k in ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")}
    for episode in dataset.iterate_episodes():
        parts["observations"].append(episode.observations[:-1])
        parts["next_observations"].append(episode.observations[1:])
        parts["actions"].append(episode.actions)
        parts["rewards"].append(episode.rewards)
        parts["terminals"].append(episode.terminations)
        timeouts = np.asarray(episode.truncations, dtype=bool).copy()
        timeouts[-1] |= not episode.terminations[-1]
        parts["timeouts"].append(timeouts)
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    return Transitions(
        observations=arrays["observations"].astype(np.float32),
        actions=arrays["actions"].astype(np.float32),
        rewards=arrays["rewards"].astype(np.float32),
        next_observations=arrays["next_observations"].astype(np.float32),
        terminals=arrays["terminals"].astype(bool),
        timeouts=arrays["timeouts"],
    )


def read_episodes(dataset_id: str) -> list[Episode]:
    import minari

    datasets_root()
    return [Episode(e.observations, e.actions, e.rewards, e.terminations, e.truncations, None)
            for e in minari.load_dataset(dataset_id).iterate_episodes()]


@dataclass(frozen=True)
class Episode:
    observations: np.ndarray  # [T + 1, obs_dim], including the final observation
    actions: np.ndarray  # [T, act_dim]
    rewards: np.ndarray  # [T]
    terminations: np.ndarray  # [T] bool
    truncations: np.ndarray  # [T] bool
    seed: int | None  # the reset seed, where known


class EpisodeWriter:
    """Accumulates one environment's steps into an Episode; `close` marks a cut episode as truncated."""

    def __init__(self, observation: np.ndarray, seed: int | None):
        self.observations, self.seed = [observation], seed
        self.actions, self.rewards, self.terminations, self.truncations = [], [], [], []

    def add(self, action, reward, next_observation, terminated, truncated) -> None:
        self.actions.append(action)
        self.rewards.append(reward)
        self.observations.append(next_observation)
        self.terminations.append(terminated)
        self.truncations.append(truncated and not terminated)

    def close(self) -> Episode:
        if not self.terminations[-1]:
            self.truncations[-1] = True  # cut by the time limit, the data budget or a resumed run
        return Episode(np.asarray(self.observations, dtype=np.float32), np.asarray(self.actions, dtype=np.float32),
                       np.asarray(self.rewards), np.asarray(self.terminations), np.asarray(self.truncations),
                       self.seed)

    def __len__(self) -> int:
        return len(self.actions)



def write_dataset(dataset_id: str, episodes: list[Episode], env_id: str, *, ref_min_score: float,
                  ref_max_score: float, algorithm_name: str, description: str,
                  extra_metadata: dict | None = None) -> None:
    """Store episodes as an hdf5 Minari dataset with float32 observations and D4RL's reference scores.

    `extra_metadata` (JSON-serialisable) is added to the dataset's metadata: recipe, seeds, hashes.
    """
    import minari
    import mujoco
    from minari.data_collector.episode_buffer import EpisodeBuffer

    datasets_root()
    env = gym.make(env_id)
    obs_space = gym.spaces.Box(-np.inf, np.inf, env.observation_space.shape, np.float32)
    buffers = [
        EpisodeBuffer(id=i, seed=ep.seed, observations=ep.observations.astype(np.float32),
                      actions=ep.actions.astype(np.float32), rewards=ep.rewards.astype(np.float64),
                      terminations=ep.terminations, truncations=ep.truncations)
        for i, ep in enumerate(episodes)
    ]
    with warnings.catch_warnings():  # minari warns about the optional author e-mail and code link
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers(
            dataset_id, buffer=buffers, env=env_id, eval_env=env_id, observation_space=obs_space,
            action_space=env.action_space, algorithm_name=algorithm_name, author="dawm-bench",
            description=description, ref_min_score=ref_min_score, ref_max_score=ref_max_score,
            data_format="hdf5", requirements=[f"mujoco=={mujoco.__version__}", f"gymnasium=={gym.__version__}"],
        )
    if extra_metadata:
        minari.load_dataset(dataset_id).storage.update_metadata(extra_metadata)


@contextmanager
def build_lock() -> Iterator[None]:
    """One builder at a time, across processes: concurrent jobs may ask for the same dataset."""
    with open(datasets_root() / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
