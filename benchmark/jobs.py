"""Job records: which executor job runs a run, and what state that job is in (for `run` and `status`)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import submitit

from benchmark.results import write_json_atomic
from benchmark.runspec import RunSpec

ACTIVE = {"PENDING": "pending", "REQUEUED": "pending", "CONFIGURING": "pending", "RUNNING": "running",
          "COMPLETING": "running", "SUSPENDED": "pending"}


@dataclass(frozen=True)
class JobRecord:
    executor: str  # local | slurm
    job_id: str  # SLURM job id (array task id included), or the local job's process id
    folder: str  # submitit's folder of the job (its logs)

    def submitit_job(self) -> submitit.Job:
        if self.executor == "slurm":
            return submitit.SlurmJob(folder=self.folder, job_id=self.job_id)
        return submitit.local.local.LocalJob(folder=self.folder, job_id=self.job_id)

    def state(self) -> str:
        """pending, running, or ended (whatever its outcome: the result or failure file says which)."""
        if self.executor == "local":
            try:
                os.kill(int(self.job_id), 0)
                return "running"
            except (OSError, ValueError):
                return "ended"
        info = self.submitit_job().get_info(mode="force")  # ask sacct now, not a cached poll
        return ACTIVE.get(info.get("State", "UNKNOWN").split()[0], "ended")

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the job's stderr log, for a job that died without a failure record."""
        path = self.submitit_job().paths.stderr
        if not path.is_file():
            return f"no log at {path}"
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        return " | ".join(text[-lines:]) if text else f"empty log {path}"


def record_job(spec: RunSpec, results_dir: Path, record: JobRecord) -> None:
    write_json_atomic(spec.job_path(results_dir), asdict(record))


def read_job(spec: RunSpec, results_dir: Path) -> JobRecord | None:
    path = spec.job_path(results_dir)
    try:
        return JobRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
