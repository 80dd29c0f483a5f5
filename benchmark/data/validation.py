"""Checks every dataset passes before anything trains on it: bad data never becomes a result."""

from __future__ import annotations

import numpy as np

from benchmark.data.transitions import Transitions
from benchmark.errors import UsageError

MAX_ACTION = 1.0  # every locomotion task's action space is [-1, 1]


class InvalidDatasetError(UsageError):
    pass


def boolean_flags(values: np.ndarray, name: str, origin: str) -> np.ndarray:
    """A terminals/timeouts column as bool: booleans, or numbers that are all 0 or 1; anything else is an error
    (`astype(bool)` would make every non-empty string, and every nonzero number, a terminal)."""
    values = np.asarray(values).reshape(-1)
    if values.dtype == bool:
        return values
    if np.issubdtype(values.dtype, np.number):
        distinct = np.unique(values)
        if np.isin(distinct, (0, 1)).all():
            return values.astype(bool)
        raise InvalidDatasetError(f"{origin}: {name} must be 0/1 or boolean, found values "
                                  f"{', '.join(map(str, distinct[:5]))}; fix the file")
    raise InvalidDatasetError(f"{origin}: {name} has dtype {values.dtype}, expected booleans or 0/1; fix the file")


def validate_transitions(data: Transitions, origin: str, obs_dim: int, act_dim: int, fix: str) -> None:
    """Dimensions, finite values, actions within the action space. `fix` says how to get a good dataset."""
    if data.obs_dim != obs_dim or data.act_dim != act_dim:
        raise InvalidDatasetError(f"{origin}: observations have {data.obs_dim} dimensions and actions {data.act_dim}; "
                                  f"this task needs {obs_dim} and {act_dim}. {fix}")
    for name in ("observations", "actions", "rewards", "next_observations"):
        values = getattr(data, name)
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if bad.any():
            raise InvalidDatasetError(f"{origin}: {bad.sum()} rows of {name} hold NaN or inf (first: row "
                                      f"{int(np.flatnonzero(bad)[0])}). {fix}")
    outside = np.abs(data.actions).max(axis=1) > MAX_ACTION + 1e-6
    if outside.any():
        raise InvalidDatasetError(
            f"{origin}: {outside.sum()} actions lie outside the action space [-1, 1] (largest magnitude "
            f"{np.abs(data.actions).max():.3g}, first: row {int(np.flatnonzero(outside)[0])}). Pass --clip-actions to "
            f"clip them (recorded in every result), or {fix[0].lower()}{fix[1:]}")
