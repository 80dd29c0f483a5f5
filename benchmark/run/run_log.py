"""A run's scalars over time: training losses at a cadence and every evaluation, to the job's log through
`logging`, and optionally to TensorBoard or Weights & Biases (`run --logger`).

Losses stay on the device between logging steps; reading them here is the run's only host sync for them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from benchmark.errors import UsageError

LOGGERS = ("none", "tensorboard", "wandb")
EXTRA = {"tensorboard": "tensorboard", "wandb": "wandb"}  # logger -> the package (and pip extra) it needs
log = logging.getLogger("benchmark.run")


def check_logger(name: str) -> None:
    """Before anything is launched: the logger exists and its package is installed."""
    if name not in LOGGERS:
        raise UsageError(f"--logger {name!r}: use one of {', '.join(LOGGERS)}")
    if name in EXTRA and importlib.util.find_spec(EXTRA[name]) is None:
        raise UsageError(f"--logger {name} needs the {EXTRA[name]} package: pip install -e \".[{name}]\"")


def logger_folder(results_dir: Path, name: str, run_path: Path) -> Path:
    """Where a backend writes a run's events: <results>/<backend>/<the run's path below results>."""
    return Path(results_dir) / name / Path(run_path).relative_to(results_dir).with_suffix("")


class RunLog:
    """Scalars of one run. `start_step` > 0 means a resumed run: TensorBoard drops the events written after
    the checkpoint it resumed from, W&B continues the same run id."""

    def __init__(self, name: str, logger: str, results_dir: Path, run_path: Path, config: Mapping,
                 start_step: int = 0):
        check_logger(logger)
        self.name, self.logger = name, logger
        folder = logger_folder(results_dir, logger, run_path)
        if logger == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(folder), purge_step=start_step + 1 if start_step else None)
        elif logger == "wandb":
            import wandb

            folder.mkdir(parents=True, exist_ok=True)
            run_id = hashlib.sha1(str(run_path).encode()).hexdigest()[:16]
            self.writer = wandb.init(project=os.environ.get("WANDB_PROJECT", "dawm-bench"), name=name,
                                     group=str(Path(name).parent), id=run_id, resume="allow", dir=str(folder),
                                     config=dict(config))

    def scalars(self, kind: str, step: int, values: Mapping[str, float | torch.Tensor]) -> dict[str, float]:
        """Log `values` under `kind/` (train, eval, time) at `step`; returns them as floats."""
        read = {key: float(value) for key, value in values.items()}
        log.info("%s %s step %d: %s", self.name, kind, step, " ".join(f"{k}={v:.4g}" for k, v in read.items()))
        if self.logger == "tensorboard":
            for key, value in read.items():
                self.writer.add_scalar(f"{kind}/{key}", value, step)
        elif self.logger == "wandb":
            self.writer.log({f"{kind}/{key}": value for key, value in read.items()}, step=step)
        return read

    def close(self) -> None:
        if self.logger == "tensorboard":
            self.writer.close()
        elif self.logger == "wandb":
            self.writer.finish()
