"""Job records: which executor job runs a run, and what state that job is in (for `run` and `status`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import submitit

from benchmark.errors import UsageError
from benchmark.results import write_json_atomic
from benchmark.grid.runspec import RunSpec

ACTIVE = {"PENDING": "pending", "REQUEUED": "pending", "CONFIGURING": "pending", "RUNNING": "running",
          "COMPLETING": "running", "SUSPENDED": "pending"}


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), None if it is gone.
    With the host, it tells a live job from a new process that reuses its PID (after a reboot, say)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass(frozen=True)
class JobRecord:
    executor: str  # local | slurm
    job_id: str  # SLURM job id (array task id included), or the local job's process id
    folder: str  # submitit's folder of the job (its logs)
    host: str = field(default_factory=socket.gethostname)  # local jobs: where the process runs
    started: str | None = None  # local jobs: the process's start time (process_start)

    def submitit_job(self) -> submitit.Job:
        if self.executor == "slurm":
            return submitit.SlurmJob(folder=self.folder, job_id=self.job_id)
        return submitit.local.local.LocalJob(folder=self.folder, job_id=self.job_id)

    def state(self) -> str:
        """pending, running, or ended (whatever its outcome: the result or failure file says which)."""
        if self.executor == "local":
            if self.host != socket.gethostname():
                return "ended"  # a record from another machine: its process is not ours to find
            try:
                pid = int(self.job_id)
                os.kill(pid, 0)
            except (OSError, ValueError):
                return "ended"
            return "running" if self.started is None or process_start(pid) == self.started else "ended"
        info = self.submitit_job().get_info(mode="force")  # ask sacct now, not a cached poll
        state = info.get("State") or squeue_state(self.job_id)
        return ACTIVE.get(state.split()[0], "ended") if state else "ended"

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the job's stderr log, for a job that died without a failure record."""
        path = self.submitit_job().paths.stderr
        if not path.is_file():
            return f"no log at {path}"
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        return " | ".join(text[-lines:]) if text else f"empty log {path}"


def squeue_state(job_id: str) -> str | None:
    """The job's state from the controller (squeue), None once it has left the queue. Asked when sacct gives none:
    with the accounting database down, sacct knows no job, and reading that as "ended" would submit a running run
    a second time. Without SLURM here (a record copied from a cluster) nothing can be asked: the job counts as ended."""
    if shutil.which("squeue") is None:
        return None
    try:
        answer = subprocess.run(["squeue", "--noheader", "--array", "--jobs", job_id, "--format", "%T"],
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        answer = subprocess.CompletedProcess([], 1, "", str(error))
    if answer.returncode == 0:
        return answer.stdout.split()[0] if answer.stdout.split() else None
    if "Invalid job id" in answer.stderr:
        return None
    raise UsageError(f"cannot tell whether SLURM job {job_id} still runs: sacct gives no state (is slurmdbd up?) and "
                     f"squeue failed: {answer.stderr.strip() or answer.returncode}. Check the cluster (`sinfo`, "
                     f"`sacct -j {job_id}`), then run the command again; nothing was submitted")


def record_job(spec: RunSpec, results_dir: Path, record: JobRecord) -> None:
    write_json_atomic(spec.job_path(results_dir), asdict(record))


def read_job(spec: RunSpec, results_dir: Path) -> JobRecord | None:
    path = spec.job_path(results_dir)
    try:
        return JobRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
