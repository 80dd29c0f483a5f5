"""Cluster profiles: what SLURM parameters a run gets (slurm/profiles/*.yaml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmark.errors import UsageError

PROFILES_DIR = Path(__file__).resolve().parents[2] / "slurm" / "profiles"


@dataclass(frozen=True)
class ClusterProfile:
    partition: str
    cpus_per_task: int = 1
    mem_gb: float = 4
    gpus_per_node: int = 0
    time_limit_min: int = 600
    signal_delay_s: int = 60
    max_requeues: int = 5
    array_parallelism: int = 2
    account: str | None = None
    qos: str | None = None
    # passed through to submitit: extra sbatch options ({"gres": "gpu:a100:1", "constraint": "a100"}) and
    # shell lines run before the job (["module load cuda/12.4", "source ~/venv/bin/activate"])
    additional: dict | None = None
    setup: list | None = None

    def executor_parameters(self) -> dict:
        """submitit's update_parameters() arguments."""
        parameters = {"slurm_partition": self.partition, "cpus_per_task": self.cpus_per_task, "mem_gb": self.mem_gb,
                      "timeout_min": self.time_limit_min, "slurm_signal_delay_s": self.signal_delay_s,
                      "slurm_array_parallelism": self.array_parallelism}
        if self.gpus_per_node:
            parameters["gpus_per_node"] = self.gpus_per_node
        if self.account:
            parameters["slurm_account"] = self.account
        if self.qos:
            parameters["slurm_qos"] = self.qos
        if self.additional:
            parameters["slurm_additional_parameters"] = dict(self.additional)
        if self.setup:
            parameters["slurm_setup"] = list(self.setup)
        return parameters


def load_cluster_profile(name_or_path: str) -> ClusterProfile:
    """A profile by name (slurm/profiles/<name>.yaml) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
        raise UsageError(f"no cluster profile {name_or_path!r}; give a YAML path or one of: {', '.join(names)}")
    fields = yaml.safe_load(path.read_text()) or {}
    known = {f.name for f in dataclasses.fields(ClusterProfile)}
    if unknown := set(fields) - known:
        raise UsageError(f"{path}: unknown keys {sorted(unknown)}; valid keys: {', '.join(sorted(known))}")
    if "partition" not in fields:
        raise UsageError(f"{path}: 'partition' is required")
    if not isinstance(fields.get("additional") or {}, dict) or not isinstance(fields.get("setup") or [], list):
        raise UsageError(f"{path}: 'additional' must be a mapping of sbatch options and 'setup' a list of lines")
    return ClusterProfile(**fields)
