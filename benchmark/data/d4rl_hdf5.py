"""D4RL v2 hdf5 files read with h5py: no d4rl package, no mujoco-py.

The rows are those of d4rl.qlearning_dataset, which CORL trains on: every row marked as a timeout is dropped,
and so is the file's last row; s' is the next row's observation. The row before a dropped timeout becomes
the (timed-out) end of its episode. Where the file has ``next_observations``, a terminal row takes its s'
from there (qlearning_dataset's next row would be the next episode's start; no TD target reads it, but
the world models' absorbing states do).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from benchmark.data.transitions import Transitions
from benchmark.data.validation import boolean_flags
from benchmark.errors import UsageError


class Hdf5FormatError(UsageError):
    pass


def _check(file: h5py.File, path: Path, key: str, shape: tuple) -> None:
    """Raise a message naming the key and the expected shape (None = any length) if they do not match."""
    expected = "[" + ", ".join("N" if s is None else str(s) for s in shape) + "]"
    if key not in file:
        raise Hdf5FormatError(f"{path}: missing key {key!r} (expected an array of shape {expected})")
    actual = file[key].shape
    if len(shape) == 1 and len(actual) == 2 and actual[1] == 1:
        actual = actual[:1]  # rewards/terminals stored as [N, 1]
    if len(actual) != len(shape) or any(s is not None and a != s for a, s in zip(actual, shape)):
        raise Hdf5FormatError(f"{path}: key {key!r} has shape {list(file[key].shape)}, expected {expected}")


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as error:  # not HDF5, truncated, unreadable
        raise Hdf5FormatError(f"{path}: not a readable HDF5 file ({error}); replace it with D4RL's original "
                              f"(a download cut short leaves a truncated file)") from None


def validate_d4rl_hdf5(path: Path, obs_dim: int, act_dim: int) -> None:
    """Check keys and shapes from the file's metadata alone, before any run starts."""
    with _open(path) as file:
        _check(file, path, "observations", (None, obs_dim))
        n = file["observations"].shape[0]
        _check(file, path, "actions", (n, act_dim))
        for key in ("rewards", "terminals", "timeouts"):
            _check(file, path, key, (n,))
        if "next_observations" in file:
            _check(file, path, "next_observations", (n, obs_dim))


def read_d4rl_hdf5(path: Path, obs_dim: int, act_dim: int) -> Transitions:
    validate_d4rl_hdf5(path, obs_dim, act_dim)
    with _open(path) as file:
        try:
            observations, actions = file["observations"][()], file["actions"][()]
            rewards = file["rewards"][()].reshape(-1)
        except OSError as error:  # the header reads, the data does not: a truncated file
            raise Hdf5FormatError(f"{path}: its arrays cannot be read ({error}); replace it with D4RL's "
                                  f"original") from None
        terminals = boolean_flags(file["terminals"][()], "terminals", str(path))
        timeouts = boolean_flags(file["timeouts"][()], "timeouts", str(path))
        next_observations = file["next_observations"][()] if "next_observations" in file else None
    n = len(observations)
    if n < 2:
        raise Hdf5FormatError(f"{path}: {n} rows; a dataset needs at least two (D4RL drops the last row)")
    keep = ~timeouts
    keep[-1] = False
    if not keep.any():
        raise Hdf5FormatError(f"{path}: no transition left once timeouts and the last row are dropped")
    following = np.roll(observations, -1, axis=0)
    if next_observations is not None:
        following[terminals] = next_observations[terminals]
    next_observations = following
    # A kept row followed by a dropped row (a timeout, or the file's end) ends its episode, cut.
    ends_after_drop = np.zeros(n, dtype=bool)
    ends_after_drop[:-1] = keep[:-1] & ~keep[1:] & ~terminals[:-1]
    observations, actions, rewards = observations[keep], actions[keep], rewards[keep]
    next_observations, terminals, timeouts = next_observations[keep], terminals[keep], ends_after_drop[keep]
    return Transitions(
        observations=observations.astype(np.float32), actions=actions.astype(np.float32),
        rewards=rewards.astype(np.float32), next_observations=next_observations.astype(np.float32),
        terminals=terminals, timeouts=timeouts,
    )
