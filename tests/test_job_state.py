"""A SLURM job's state when the accounting database is down: sacct then knows no job, and the launcher must ask
the controller (squeue) rather than take a running job for an ended one and submit its run a second time.

sacct and squeue are stand-in scripts on PATH, so these run without a cluster."""

import os
import stat

import pytest

from benchmark.errors import UsageError
from benchmark.grid.runspec import RunSpec
from benchmark.launch.jobs import JobRecord, record_job
from benchmark.launch.status import run_status

SACCT_DOWN = "echo 'sacct: error: Problem talking to the database: Connection refused' >&2; exit 1"
INVALID_ID = "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1"
CONTROLLER_DOWN = "echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1"


@pytest.fixture
def slurm_commands(tmp_path, monkeypatch):
    """Install stand-in `sacct` and `squeue` scripts (bash bodies) ahead of the real ones on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    def install(sacct: str, squeue: str) -> None:
        for name, body in (("sacct", sacct), ("squeue", squeue)):
            script = folder / name
            script.write_text(f"#!/usr/bin/env bash\n{body}\n")
            script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return install


def slurm_job(tmp_path, job_id: str) -> JobRecord:
    return JobRecord("slurm", job_id, str(tmp_path / "logs" / job_id))


@pytest.mark.parametrize("queued, expected", [("RUNNING", "running"), ("PENDING", "pending"),
                                              ("COMPLETING", "running")])
def test_with_sacct_down_the_controller_says_whether_a_job_still_runs(slurm_commands, tmp_path, queued, expected):
    slurm_commands(SACCT_DOWN, f"echo {queued}")
    assert slurm_job(tmp_path, "700001").state() == expected


def test_a_job_that_left_the_queue_while_sacct_is_down_has_ended(slurm_commands, tmp_path):
    slurm_commands(SACCT_DOWN, INVALID_ID)
    assert slurm_job(tmp_path, "700002").state() == "ended"


def test_without_slurm_on_this_machine_a_slurm_job_counts_as_ended(tmp_path, monkeypatch):
    """A record copied from a cluster: neither sacct nor squeue exists here, so a local rerun is not blocked."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert slurm_job(tmp_path, "700006").state() == "ended"


def test_sacct_is_read_first_and_squeue_is_not_asked_when_it_answers(slurm_commands, tmp_path):
    slurm_commands("printf 'JobID|State|NodeList\\n700003|RUNNING|node1\\n'", CONTROLLER_DOWN)
    assert slurm_job(tmp_path, "700003").state() == "running"


def test_with_sacct_and_squeue_both_down_the_error_names_the_job_and_what_to_check(slurm_commands, tmp_path):
    slurm_commands(SACCT_DOWN, CONTROLLER_DOWN)
    with pytest.raises(UsageError, match=r"SLURM job 700004 .*sacct gives no state.*Unable to contact slurm "
                                         r"controller.*nothing was submitted"):
        slurm_job(tmp_path, "700004").state()


def test_status_shows_a_running_job_as_running_while_sacct_is_down(slurm_commands, tmp_path):
    slurm_commands(SACCT_DOWN, "echo RUNNING")
    spec = RunSpec("hopper-tiny", "td3bc", 0, "smoke")
    record_job(spec, tmp_path, slurm_job(tmp_path, "700005"))
    state, detail = run_status(spec, tmp_path)
    assert (state, detail) == ("running", "slurm job 700005")
