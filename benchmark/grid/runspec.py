"""One run of the grid: what it is, and where its result file goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.data import DataSpec
from benchmark.grid.methods import get_method


@dataclass(frozen=True)
class RunSpec:
    task: str
    method: str
    seed: int
    profile: str
    data: DataSpec = field(default_factory=DataSpec)
    device: str = "cpu"
    threads: int = 1  # torch threads; one single-threaded run per core is fastest on CPU
    cache: str = ".cache"  # world models, rollout banks and IDMs shared across runs (git-ignored)
    checkpoint_every: int = 0  # agent steps between checkpoints, besides one at every evaluation (0: none)
    budget: tuple[tuple[str, int], ...] = ()  # profile fields to override, e.g. (("train_steps", 5000),)
    variant: str = ""  # an ablation's name for `overrides`; it separates the run's files from the method's own
    overrides: tuple[tuple[str, str, object], ...] = ()  # (component, field, value) over the hyperparameter table
    override_source: str = ""  # where the overrides come from (default: "ablation: <variant>")
    logger: str = "none"  # where scalars go besides the job's log: none, tensorboard, wandb (run/run_log.py)
    log_every: int = 1000  # agent steps between logged training losses (0: none)

    @property
    def name(self) -> str:
        return f"{self.task}/{self.arm}/seed{self.seed}"

    def identity(self) -> dict:
        """What result files and failure records say about the run they belong to (the reports select on it)."""
        return {"task": self.task, "method": self.method, "variant": self.variant, "seed": self.seed,
                "method_version": get_method(self.method).version, "profile": self.profile,
                "source": self.data.source, "device": self.device}

    @property
    def arm(self) -> str:
        """The method, plus the ablation variant if any (`dwm-td3bc+h3`)."""
        return f"{self.method}+{self.variant}" if self.variant else self.method

    def result_path(self, results_dir: Path) -> Path:
        return Path(results_dir) / self.profile / self.data.source / self.task / self.arm / f"seed{self.seed}.json"

    def failure_path(self, results_dir: Path) -> Path:
        return self.result_path(results_dir).with_suffix(".failed")

    def checkpoint_path(self, results_dir: Path) -> Path:
        """The run's full training state while it runs; a restarted run resumes from it."""
        return self.result_path(results_dir).with_suffix(".ckpt")

    def weights_path(self, results_dir: Path) -> Path:
        """The trained networks, kept next to the result (git-ignored: about 1 MB a run)."""
        return self.result_path(results_dir).with_suffix(".weights.pt")

    def job_path(self, results_dir: Path) -> Path:
        """Which executor job runs it (for `status`)."""
        return self.result_path(results_dir).with_suffix(".job")
