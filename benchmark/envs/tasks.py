"""Task names as the papers write them, the MuJoCo environments behind them and D4RL's score scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.errors import UnknownNameError


@dataclass(frozen=True)
class EnvInfo:
    """One locomotion environment and D4RL's reference returns for it (d4rl/infos.py)."""

    name: str
    gym_id: str  # gymnasium v5: the version local and Minari datasets are built on
    gym_id_d4rl: str  # closest gymnasium version to D4RL v2's gym v3 envs (same model and observations)
    obs_dim: int
    act_dim: int
    ref_min_score: float
    ref_max_score: float


ENVS: dict[str, EnvInfo] = {
    e.name: e
    for e in (
        EnvInfo("halfcheetah", "HalfCheetah-v5", "HalfCheetah-v4", 17, 6, -280.178953, 12135.0),
        EnvInfo("hopper", "Hopper-v5", "Hopper-v4", 11, 3, -20.272305, 3234.3),
        EnvInfo("walker2d", "Walker2d-v5", "Walker2d-v4", 17, 6, 1.629008, 4592.3),
    )
}

D4RL_DATASETS = ("medium", "medium-replay", "medium-expert", "expert")
# Built in seconds from a random policy; for tests and the smoke suite only.
TINY_DATASET = "tiny"


@dataclass(frozen=True)
class Task:
    env: str
    dataset: str

    @property
    def name(self) -> str:
        if self.dataset == TINY_DATASET:
            return f"{self.env}-{TINY_DATASET}"
        return f"{self.env}-{self.dataset}-v2"

    @property
    def info(self) -> EnvInfo:
        return ENVS[self.env]

    def __str__(self) -> str:
        return self.name


def all_tasks() -> list[Task]:
    return [Task(env, ds) for env in ENVS for ds in (*D4RL_DATASETS, TINY_DATASET)]


TASKS: dict[str, Task] = {t.name: t for t in all_tasks()}


def parse_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownNameError("task", name, TASKS) from None


def normalized_score(env: str, returns: np.ndarray | float) -> np.ndarray | float:
    """D4RL's normalised score, x100: 0 is a random policy, 100 an expert."""
    info = ENVS[env]
    return 100.0 * (np.asarray(returns) - info.ref_min_score) / (info.ref_max_score - info.ref_min_score)
