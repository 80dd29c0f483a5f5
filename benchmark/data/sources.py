"""Where a task's dataset comes from: the project's local builds, Minari's releases or D4RL's hdf5 files.

Every run records the source, the dataset id(s) and the checksum of the transitions it trained on.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmark.data.d4rl_hdf5 import read_d4rl_hdf5, validate_d4rl_hdf5
from benchmark.data.minari_io import (dataset_caveats, dataset_exists, datasets_root, local_dataset_id,
                                      read_transitions)
from benchmark.data.recipe import behaviour_run_available, build_dataset
from benchmark.data.tiny import build_tiny_dataset
from benchmark.data.transitions import Transitions
from benchmark.data.validation import MAX_ACTION, InvalidDatasetError, validate_transitions
from benchmark.errors import DatasetNotFoundError, UnknownNameError, UsageError
from benchmark.envs.tasks import TINY_DATASET, Task

SOURCES = ("local", "minari", "d4rl-hdf5")


@dataclass(frozen=True)
class DataSpec:
    """How to resolve tasks to datasets; part of every run's configuration."""

    source: str = "local"
    download: bool = False  # minari only: fetch a missing dataset from the Minari remote
    hdf5_dir: str | None = None  # d4rl-hdf5 only; default $D4RL_DATASET_DIR or ~/.d4rl/datasets
    clip_actions: bool = False  # clip actions outside the action space instead of refusing the dataset

    def __post_init__(self):
        if self.source not in SOURCES:
            raise UnknownNameError("source", self.source, SOURCES)


@dataclass(frozen=True)
class Dataset:
    transitions: Transitions
    dataset_id: str
    source: str
    eval_env_id: str  # the gymnasium env the policy is evaluated in
    checksum: str
    caveats: tuple[str, ...] = ()  # where a local build misses the D4RL recipe's targets (reports mark its task)

    @property
    def reward_windows(self) -> str:
        """How IQL's reward scale finds returns (normalization.reward_scale): CORL's rule on D4RL's files."""
        return "corl" if self.source == "d4rl-hdf5" else "episodes"


def how_to_get(task: Task) -> str:
    env, ds = task.env, task.dataset
    return (
        f"Three ways to get {task.name}:\n"
        f"  1. --source local: the project's D4RL-recipe build, {local_dataset_id(env, ds)} under "
        f"$MINARI_DATASETS_PATH ({datasets_root()}). Build it with `python -m benchmark.data build "
        f"--env {env} --datasets {ds}` (needs the committed behaviour run in benchmark/data/behaviour/{env}).\n"
        f"  2. --source minari --download: Minari's mujoco/{env}/medium-v0 and expert-v0 "
        f"(medium-expert is combined locally; Minari has no medium-replay). Needs `pip install -e .[download]` "
        f"and network access.\n"
        f"  3. --source d4rl-hdf5 --hdf5-dir DIR: D4RL's own file, {d4rl_file_names(task)[0]}, in DIR."
    )


def minari_dataset_ids(task: Task) -> list[str]:
    if task.dataset == "medium-replay":
        raise UsageError(
            f"Minari publishes no medium-replay dataset for {task.env}; use --source local (the project's "
            f"D4RL-recipe build) or --source d4rl-hdf5 for {task.name}")
    if task.dataset == TINY_DATASET:
        raise UsageError(f"{task.name} exists only with --source local")
    parts = {"medium": ["medium"], "expert": ["expert"], "medium-expert": ["medium", "expert"]}[task.dataset]
    return [f"mujoco/{task.env}/{part}-v0" for part in parts]


def d4rl_file_names(task: Task) -> list[str]:
    return [f"{task.env}_{task.dataset.replace('-', '_')}-v2.hdf5", f"{task.name}.hdf5"]


def hdf5_dir(spec: DataSpec) -> Path:
    return Path(spec.hdf5_dir or os.environ.get("D4RL_DATASET_DIR", "~/.d4rl/datasets")).expanduser()


def hdf5_path(task: Task, spec: DataSpec) -> Path | None:
    folder = hdf5_dir(spec)
    for name in d4rl_file_names(task):
        if (folder / name).is_file():
            return folder / name
    return None


def ensure_available(task: Task, spec: DataSpec) -> None:
    """Fail before any run starts if a dataset cannot be had; build tiny datasets, download if asked."""
    if spec.source == "local":
        if task.dataset == TINY_DATASET:
            build_tiny_dataset(task.env)
        elif not dataset_exists(dataset_id := local_dataset_id(task.env, task.dataset)):
            if not behaviour_run_available(task.env):
                raise DatasetNotFoundError(
                    f"{task.name}: no local dataset {dataset_id} and no behaviour run to build it from.\n"
                    f"{how_to_get(task)}")
            print(f"building {dataset_id} from the committed behaviour policies (first use)", flush=True)
            build_dataset(task.env, task.dataset, progress=True)
    elif spec.source == "minari":
        for dataset_id in minari_dataset_ids(task):
            if dataset_exists(dataset_id):
                continue
            if not spec.download:
                raise DatasetNotFoundError(
                    f"{task.name}: Minari dataset {dataset_id} is not on this machine "
                    f"(add --download to fetch it).\n{how_to_get(task)}")
            _download(dataset_id)
    else:
        path = hdf5_path(task, spec)
        if path is None:
            raise DatasetNotFoundError(
                f"{task.name}: none of {', '.join(d4rl_file_names(task))} in {hdf5_dir(spec)}.\n{how_to_get(task)}")
        validate_d4rl_hdf5(path, task.info.obs_dim, task.info.act_dim)


def _download(dataset_id: str) -> None:
    """One clear message instead of huggingface_hub's retry storm when the network is not there."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise DatasetNotFoundError(f"cannot download {dataset_id}: HF_HUB_OFFLINE is set")
    try:
        socket.create_connection(("huggingface.co", 443), timeout=5).close()
    except OSError as error:
        raise DatasetNotFoundError(
            f"cannot download {dataset_id}: the Minari remote (huggingface.co) is unreachable ({error})") from None
    try:
        import minari

        minari.download_dataset(dataset_id)
    except ImportError:
        raise DatasetNotFoundError("downloads need huggingface_hub: pip install -e .[download]") from None
    except Exception as error:  # any remote failure becomes one message
        raise DatasetNotFoundError(f"download of {dataset_id} failed: {type(error).__name__}: {error}") from None


def load_dataset(task: Task, spec: DataSpec) -> Dataset:
    ensure_available(task, spec)
    if spec.source == "local":
        dataset_id = local_dataset_id(task.env, task.dataset)
        transitions, env_id = _read_minari(task, spec, [dataset_id]), task.info.gym_id
    elif spec.source == "minari":
        ids = minari_dataset_ids(task)
        transitions = _read_minari(task, spec, ids)
        dataset_id, env_id = "+".join(ids), task.info.gym_id
    else:
        path = hdf5_path(task, spec)
        transitions = read_d4rl_hdf5(path, task.info.obs_dim, task.info.act_dim)
        dataset_id, env_id = f"d4rl/{path.name}", task.info.gym_id_d4rl
    if spec.clip_actions:
        transitions = replace(transitions, actions=np.clip(transitions.actions, -MAX_ACTION, MAX_ACTION))
    validate_transitions(transitions, _origin(task, spec, dataset_id), task.info.obs_dim, task.info.act_dim,
                         _fix(task, spec))
    caveats = (dataset_caveats(dataset_id) or ()) if spec.source == "local" else ()
    return Dataset(transitions, dataset_id, spec.source, env_id, transitions.checksum(), caveats)


def _read_minari(task: Task, spec: DataSpec, ids: list[str]) -> Transitions:
    """The datasets' transitions, concatenated; a dataset that cannot be read is an error naming it and the fix."""
    parts = []
    for dataset_id in ids:
        try:
            parts.append(read_transitions(dataset_id))
        except Exception as error:  # truncated hdf5, missing episodes, zero rows: minari and h5py raise many kinds
            raise InvalidDatasetError(f"{_origin(task, spec, dataset_id)} cannot be read ({type(error).__name__}: "
                                      f"{error}). {_fix(task, spec)}") from None
    return parts[0] if len(parts) == 1 else Transitions.concatenate(parts)


def _origin(task: Task, spec: DataSpec, dataset_id: str) -> str:
    if spec.source == "d4rl-hdf5":
        return str(hdf5_path(task, spec))
    return f"{dataset_id} (under {datasets_root()})"


def _fix(task: Task, spec: DataSpec) -> str:
    if spec.source == "local":
        return (f"Delete it and rebuild it: `python -m benchmark.data build --env {task.env} --datasets "
                f"{task.dataset}`.")
    if spec.source == "minari":
        return "Delete it and download it again (--download)."
    return "Replace the file with D4RL's original."
