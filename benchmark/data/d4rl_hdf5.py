"""D4RL v2 hdf5 files read with h5py: no d4rl package, no mujoco-py.

If the file has ``next_observations`` (the v2 locomotion files do), every row is a transition. If not,
s' is the next row, and the last row of each timed-out episode is dropped, as d4rl.qlearning_dataset
does, because its next state is not in the file.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from benchmark.data.transitions import Transitions
from benchmark.errors import UsageError


class Hdf5FormatError(UsageError):
    pass


def _read(file: h5py.File, path: Path, key: str, shape: tuple) -> np.ndarray:
    """Read one array, checking it against the expected shape (None = any length)."""
    expected = "[" + ", ".join("N" if s is None else str(s) for s in shape) + "]"
    if key not in file:
        raise Hdf5FormatError(f"{path}: missing key {key!r} (expected an array of shape {expected})")
    array = file[key][()]
    if array.ndim == len(shape) + 1 and array.shape[-1] == 1 and len(shape) == 1:
        array = array[:, 0]  # rewards/terminals stored as [N, 1]
    if array.ndim != len(shape) or any(s is not None and a != s for a, s in zip(array.shape, shape)):
        raise Hdf5FormatError(f"{path}: key {key!r} has shape {list(array.shape)}, expected {expected}")
    return array


def read_d4rl_hdf5(path: Path, obs_dim: int, act_dim: int) -> Transitions:
    with h5py.File(path, "r") as file:
        observations = _read(file, path, "observations", (None, obs_dim))
        n = len(observations)
        actions = _read(file, path, "actions", (n, act_dim))
        rewards = _read(file, path, "rewards", (n,))
        terminals = _read(file, path, "terminals", (n,)).astype(bool)
        timeouts = _read(file, path, "timeouts", (n,)).astype(bool)
        has_next = "next_observations" in file
        next_observations = _read(file, path, "next_observations", (n, obs_dim)) if has_next else None
    if next_observations is None:
        keep = ~timeouts
        keep[-1] = False
        next_observations = np.roll(observations, -1, axis=0)
        # A kept row followed by a dropped timeout row is the new end of its episode.
        ends_after_drop = np.zeros(n, dtype=bool)
        ends_after_drop[:-1] = keep[:-1] & ~keep[1:] & ~terminals[:-1]
        timeouts = ends_after_drop
        observations, actions, rewards = observations[keep], actions[keep], rewards[keep]
        next_observations, terminals, timeouts = next_observations[keep], terminals[keep], timeouts[keep]
    return Transitions(
        observations=observations.astype(np.float32), actions=actions.astype(np.float32),
        rewards=rewards.astype(np.float32), next_observations=next_observations.astype(np.float32),
        terminals=terminals, timeouts=timeouts,
    )
