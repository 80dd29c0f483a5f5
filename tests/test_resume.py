"""Checkpointed runs: a run killed with SIGKILL and started again ends with the same result file (scores,
configs, data; not timings) as an uninterrupted run."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.run.runner import train_run
from benchmark.grid.runspec import RunSpec

VOLATILE = {"wall_time_s", "environment", "finished_at", "resumed_at_steps", "earlier_segments"}


def comparable(result: dict) -> dict:
    """The result as its file holds it (JSON), without what legitimately differs between two runs."""
    return {key: value for key, value in json.loads(json.dumps(result)).items() if key not in VOLATILE}


def run_in_subprocess(spec: RunSpec, results: Path) -> subprocess.Popen:
    pickled = results.parent / "spec.pkl"
    pickled.write_bytes(pickle.dumps(spec))
    code = (f"import pickle; from pathlib import Path; from benchmark.run.runner import train_run; "
            f"train_run(pickle.loads(Path({str(pickled)!r}).read_bytes()), Path({str(results)!r}))")
    return subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["td3bc", "dwm-iql", "onestep-td3bc"])
def test_sigkill_then_resume_gives_the_uninterrupted_result(tiny_hopper, tmp_path, method):
    spec = RunSpec("hopper-tiny", method, 0, "smoke", cache=str(tmp_path / "cache"), checkpoint_every=20,
                   budget=(("model_based_train_steps", 1000), ("train_steps", 1000)))
    reference = train_run(spec, tmp_path / "reference")

    killed = tmp_path / "killed"
    process = run_in_subprocess(spec, killed)
    checkpoint = spec.checkpoint_path(killed)
    deadline = time.monotonic() + 300
    while not checkpoint.exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not spec.result_path(killed).exists()

    resumed = train_run(spec, killed)
    assert resumed["resumed_at_steps"] and resumed["resumed_at_steps"][0] > 0
    assert len(resumed["earlier_segments"]) == 1  # the killed process's code and machine
    assert not checkpoint.exists()
    assert comparable(resumed) == comparable(reference)
    assert json.loads(spec.result_path(killed).read_text())["evaluations"] == reference["evaluations"]
    seconds = resumed["wall_time_s"]  # the whole run's, the killed segment included
    assert seconds["total"] >= seconds["train"] + seconds["eval"]


def processes_mentioning(text: str, besides: int) -> set[int]:
    """PIDs other than `besides` whose command line contains `text` (a submitit job's names its log folder)."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                found.add(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            continue
    return found - {besides}


def ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell script's background job starts


@pytest.mark.slow
@pytest.mark.parametrize("stop, sigint_ignored", [(signal.SIGTERM, False), (signal.SIGHUP, False),
                                                   (signal.SIGTERM, True)])
def test_a_killed_run_command_takes_its_local_jobs_with_it(tiny_hopper, tmp_path, stop, sigint_ignored):
    """submitit's jobs ignore SIGTERM: without the launcher's handler they trained on after `kill` of the parent."""
    logs = tmp_path / "logs"
    command = [sys.executable, "-m", "benchmark", "run", "--methods", "td3bc", "--profile", "quick", "--workers", "1",
               "--quiet", "--results", str(tmp_path / "runs"), "--cache", str(tmp_path / "cache"), "--logs", str(logs)]
    errors = tmp_path / "stderr.txt"  # not a pipe: jobs that outlive the parent would hold it open, and reading it hang
    progress = logs / "progress"
    with errors.open("wb") as stderr:
        parent = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=stderr,
                                  preexec_fn=ignore_sigint if sigint_ignored else None)
    try:
        deadline = time.monotonic() + 300
        while not (progress.is_dir() and any(progress.iterdir())):  # the job is training
            assert parent.poll() is None, errors.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert processes_mentioning(str(logs), besides=parent.pid)  # its job
        parent.send_signal(stop)
        assert parent.wait(timeout=60) == 130
        assert "interrupted" in errors.read_text()
        deadline = time.monotonic() + 60
        while processes_mentioning(str(logs), besides=parent.pid):
            assert time.monotonic() < deadline, "a job outlived the command that started it"
            time.sleep(0.1)
    finally:
        parent.kill()
        for pid in processes_mentioning(str(logs), besides=parent.pid):
            os.kill(pid, signal.SIGKILL)
