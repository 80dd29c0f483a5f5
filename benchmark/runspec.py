"""One run of the grid: what it is, and where its result file goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.data import DataSpec


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

    @property
    def name(self) -> str:
        return f"{self.task}/{self.method}/seed{self.seed}"

    def result_path(self, results_dir: Path) -> Path:
        return Path(results_dir) / self.profile / self.data.source / self.task / self.method / f"seed{self.seed}.json"

    def failure_path(self, results_dir: Path) -> Path:
        return self.result_path(results_dir).with_suffix(".failed")
