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
from benchmark.launch.cluster import ClusterProfile, load_cluster_profile
from benchmark.data import DataSpec
from benchmark.launch.launcher import TrainJob, launch, make_executor
from benchmark.run.runner import train_run
from benchmark.grid.runspec import RunSpec
from benchmark.launch.status import render_status
from tests.test_resume import comparable

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


def _nodes_up() -> bool:
    return shutil.which("sinfo") is not None and subprocess.run(
        ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20).stdout.strip() in (
        "idle", "mixed", "allocated")


def _accounting_up() -> bool:
    """submitit reads every job's state through sacct, which fails while slurmdbd or its database is down."""
    return shutil.which("sacct") is not None and subprocess.run(
        ["sacct", "--noheader", "--jobs", "1"], capture_output=True, timeout=20).returncode == 0


@pytest.fixture(scope="session")
def slurm_cluster():
    started = not _nodes_up()
    if started or not _accounting_up():  # cluster.sh start is idempotent: it restarts only what is down
        outcome = subprocess.run(["bash", str(ROOT / "slurm" / "cluster.sh"), "start"], capture_output=True,
                                 text=True, timeout=600)
        if outcome.returncode != 0:
            pytest.skip(f"no working SLURM cluster here and slurm/cluster.sh could not start one: "
                        f"{outcome.stderr.strip().splitlines()[-1] if outcome.stderr.strip() else outcome.returncode}")
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


def preempt_once_when(ready, run: RunSpec, results: Path) -> threading.Thread:
    """Send the run's SLURM job USR2, the signal SLURM sends before a time limit or a preemption, as soon as
    `ready()` holds: the test waits for progress instead of betting on the machine's speed."""
    def watch():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            job = run.job_path(results)
            if ready() and job.is_file():
                job_id = json.loads(job.read_text())["job_id"]
                subprocess.run(["scancel", "--signal=USR2", job_id], check=True, capture_output=True)
                return
            time.sleep(0.2)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_time_limit_signal_requeues_and_resumes_to_the_uninterrupted_result(slurm_cluster, tiny_hopper, tmp_path):
    """SLURM's time-limit signal arrives once the run has checkpointed; submitit requeues; the run resumes."""
    run = spec(checkpoint_every=250, budget=(("train_steps", 4_000),))
    profile = ClusterProfile(partition=slurm_cluster.partition, time_limit_min=30, signal_delay_s=60, max_requeues=3)
    reference = train_run(run, tmp_path / "reference")
    checkpoint = run.checkpoint_path(tmp_path / "results")
    watcher = preempt_once_when(checkpoint.is_file, run, tmp_path / "results")
    outcomes = launch([run], tmp_path / "results", tmp_path / "logs", "slurm", cluster=profile)
    watcher.join()
    assert outcomes[0].ok, outcomes[0].error
    resumed = json.loads(run.result_path(tmp_path / "results").read_text())
    assert resumed["resumed_at_steps"], "the signal came after the run ended"
    assert comparable(resumed) == comparable(reference)


def test_requeue_in_the_middle_of_a_world_model_phase_resumes_it(slurm_cluster, tiny_hopper, tmp_path):
    """The world model's own training checkpoint carries it across the requeue: same weights, same scores."""
    budget = (("world_model_steps", 1_000), ("model_based_train_steps", 200))
    run = spec("dwm-td3bc", cache=str(tmp_path / "cache"), budget=budget)
    reference = train_run(spec("dwm-td3bc", cache=str(tmp_path / "reference-cache"), budget=budget),
                          tmp_path / "reference")
    profile = ClusterProfile(partition=slurm_cluster.partition, time_limit_min=30, signal_delay_s=60, max_requeues=3)

    def world_model_checkpointed() -> bool:
        return any((tmp_path / "cache").glob("world_models/.*.training.pt"))

    watcher = preempt_once_when(world_model_checkpointed, run, tmp_path / "results")
    outcomes = launch([run], tmp_path / "results", tmp_path / "logs", "slurm", cluster=profile)
    watcher.join()
    assert outcomes[0].ok, outcomes[0].error
    resumed = json.loads(run.result_path(tmp_path / "results").read_text())
    meta = json.loads(next((tmp_path / "cache" / "world_models").glob("*/meta.json")).read_text())
    assert meta["resumed_at_step"], "the signal came after the world model was trained"
    assert resumed["artifacts"]["world_model"]["sha256"] == reference["artifacts"]["world_model"]["sha256"]
    assert [e["score"] for e in resumed["evaluations"]] == [e["score"] for e in reference["evaluations"]]


def test_no_wait_submits_and_returns_then_status_follows(slurm_cluster, tiny_hopper, tmp_path, capsys):
    results = tmp_path / "results"
    argv = ["--methods", "td3bc", "--results", str(results), "--cache", str(tmp_path / "cache")]
    assert main(["run", *argv, "--executor", "slurm", "--no-wait", "--logs", str(tmp_path / "logs")]) == 0
    assert "submitted 1 runs; follow them with `python -m benchmark status --suite smoke --methods td3bc" in \
        capsys.readouterr().out
    deadline = time.monotonic() + 300
    while not spec().result_path(results).is_file():
        assert time.monotonic() < deadline
        time.sleep(1)
    assert main(["status", *argv[:4], "--summary"]) == 0
    assert capsys.readouterr().out.startswith("1 done")
