"""The launcher against a real single-node SLURM cluster (slurm/cluster.sh starts one where it can).

Skipped, with the reason, where no cluster runs and none can be started (not root, not Debian)."""

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import submitit

from benchmark.cli import main
from benchmark.cluster import ClusterProfile, load_cluster_profile
from benchmark.data import DataSpec
from benchmark.launcher import TrainJob, launch, make_executor
from benchmark.runner import train_run
from benchmark.runspec import RunSpec
from benchmark.status import render_status
from tests.test_resume import comparable

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


def _cluster_up() -> bool:
    return shutil.which("sinfo") is not None and subprocess.run(
        ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20).stdout.strip() in (
        "idle", "mixed", "allocated")


@pytest.fixture(scope="session")
def slurm_cluster():
    started = False
    if not _cluster_up():
        outcome = subprocess.run(["bash", str(ROOT / "slurm" / "cluster.sh"), "start"], capture_output=True,
                                 text=True, timeout=600)
        if outcome.returncode != 0:
            pytest.skip(f"no SLURM cluster here and slurm/cluster.sh could not start one: "
                        f"{outcome.stderr.strip().splitlines()[-1] if outcome.stderr.strip() else outcome.returncode}")
        started = True
    yield load_cluster_profile("local")
    if started:
        subprocess.run(["bash", str(ROOT / "slurm" / "cluster.sh"), "stop"], capture_output=True, timeout=120)


def spec(method: str = "td3bc", **kwargs) -> RunSpec:
    return RunSpec("hopper-tiny", method, 0, "smoke", **kwargs)


def test_single_job_returns_its_result(slurm_cluster, tiny_hopper, tmp_path):
    executor = make_executor("slurm", tmp_path / "logs", slurm_cluster)
    job = executor.submit(TrainJob(), spec(cache=str(tmp_path / "cache")), str(tmp_path), str(tmp_path / "logs"))
    summary = job.result()
    assert summary["final_score"] == json.loads(spec().result_path(tmp_path).read_text())["final_score"]


def test_suite_through_a_job_array_matches_local(slurm_cluster, tiny_hopper, tmp_path, capsys):
    tables = {}
    for executor in ("local", "slurm"):
        results = tmp_path / executor
        argv = ["run", "--suite", "smoke", "--methods", "td3bc", "dwm-iql", "dd", "--executor", executor,
                "--results", str(results), "--logs", str(tmp_path / f"logs-{executor}"), "--cache",
                str(tmp_path / "cache")]
        assert main(argv) == 0
        out = capsys.readouterr().out
        tables[executor] = out[out.index("| task"):]
    assert tables["slurm"] == tables["local"]
    ids = [json.loads(p.read_text())["job_id"] for p in (tmp_path / "slurm").rglob("*.job")]
    assert len(ids) == 3 and len({i.split("_")[0] for i in ids}) == 1  # one array


def test_failing_run_surfaces_its_remote_traceback(slurm_cluster, tmp_path):
    broken = RunSpec("hopper-medium-v2", "td3bc", 0, "smoke", data=DataSpec("d4rl-hdf5", hdf5_dir=str(tmp_path)))
    outcomes = launch([broken], tmp_path / "results", tmp_path / "logs", "slurm", cluster=slurm_cluster)
    assert not outcomes[0].ok and "hopper_medium-v2.hdf5" in outcomes[0].error
    status = render_status([broken], tmp_path / "results")
    assert "failed   benchmark.errors.DatasetNotFoundError" in status


def test_cancel(slurm_cluster, tiny_hopper, tmp_path):
    long = spec(budget=(("train_steps", 10_000_000),))
    executor = make_executor("slurm", tmp_path / "logs", slurm_cluster)
    job = executor.submit(TrainJob(), long, str(tmp_path / "results"), str(tmp_path / "logs"))
    deadline = time.monotonic() + 120
    while job.state != "RUNNING":
        assert time.monotonic() < deadline, job.state
        time.sleep(1)
    job.cancel()
    deadline = time.monotonic() + 120
    while not job.done():
        assert time.monotonic() < deadline
        time.sleep(1)
    assert job.state.startswith("CANCELLED")
    with pytest.raises(submitit.core.utils.UncompletedJobError):
        job.result()
    assert not long.result_path(tmp_path / "results").exists()


def test_time_limit_requeues_and_resumes_to_the_uninterrupted_result(slurm_cluster, tiny_hopper, tmp_path):
    """A 2-minute limit, a run of about 2-3 minutes: SLURM signals, submitit requeues, the run resumes."""
    run = spec(checkpoint_every=250, budget=(("train_steps", 12_000),))
    short = ClusterProfile(partition=slurm_cluster.partition, time_limit_min=2, signal_delay_s=60, max_requeues=5)
    reference = {}
    local = threading.Thread(target=lambda: reference.update(train_run(run, tmp_path / "reference")))
    local.start()
    outcomes = launch([run], tmp_path / "results", tmp_path / "logs", "slurm", cluster=short)
    local.join()
    assert outcomes[0].ok, outcomes[0].error
    resumed = json.loads(run.result_path(tmp_path / "results").read_text())
    assert resumed["resumed_at_steps"], "the run was never interrupted: make it longer"
    assert comparable(resumed) == comparable(reference)
