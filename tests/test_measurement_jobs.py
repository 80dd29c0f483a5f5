"""Measurement ablations' jobs (idm_accuracy, model_budget) run here one by one or `--workers` at a time."""

import os
import time
from types import SimpleNamespace

import pytest

from ablations.measurement_jobs import run_measurements


@pytest.mark.slow
def test_local_measurements_run_at_most_workers_at_a_time_each_in_a_process_of_its_own(tmp_path, capsys):
    running, marks = tmp_path / "running", tmp_path / "marks"
    running.mkdir()
    marks.mkdir()

    def job(spec, report):  # pickled by value into each job's process
        assert report("model") is None  # no progress bars where no one watches them
        (running / spec.task).touch()
        (marks / spec.task).write_text(f"{os.getpid()} {len(list(running.iterdir()))}")
        time.sleep(2.0)  # stays in flight while the others start: with no limit, all four would overlap
        (running / spec.task).unlink()
        if spec.task == "t3":
            raise ValueError("no such dataset")
        return f"{spec.task} measured"

    specs = [SimpleNamespace(task=f"t{i}", seed=0) for i in range(4)]
    assert run_measurements(specs, job, tmp_path / "measurements", "test", "local", "local", workers=2) == 1

    seen = {path.name: path.read_text().split() for path in marks.iterdir()}
    assert sorted(seen) == ["t0", "t1", "t2", "t3"]  # a failure does not stop the others
    assert len({pid for pid, _ in seen.values()} | {str(os.getpid())}) == 5
    assert max(int(in_flight) for _, in_flight in seen.values()) <= 2
    out, err = capsys.readouterr()
    assert "4 measurements, 2 at a time" in out
    assert sorted(line for line in out.splitlines() if line.startswith("done")) == [
        "done   t0 measured", "done   t1 measured", "done   t2 measured"]
    (failed,) = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert failed.startswith("FAILED t3 seed 0: ValueError: no such dataset") and "(log: " in failed


def test_in_this_process_a_failed_measurement_is_named_with_its_traceback_and_the_others_still_run(tmp_path, capsys):
    def job(spec, report):
        if spec.task == "t0":
            raise ValueError("no such dataset")
        return f"{spec.task} measured"

    specs = [SimpleNamespace(task=f"t{i}", seed=0) for i in range(2)]
    assert run_measurements(specs, job, tmp_path / "measurements", "test", "local", "local", workers=1) == 1
    out, err = capsys.readouterr()
    assert "done   t1 measured" in out
    assert "Traceback (most recent call last)" in err and "FAILED t0 seed 0: ValueError: no such dataset" in err


def test_a_measurement_ablation_with_a_failure_exits_1_after_its_report(tiny_hopper, tmp_path, capsys, monkeypatch):
    from ablations import idm_accuracy

    def measure_to_file(spec, path, report):
        raise RuntimeError("world model diverged")

    monkeypatch.setattr(idm_accuracy, "measure_to_file", measure_to_file)
    out = tmp_path / "idm_accuracy.md"
    assert idm_accuracy.main(["--profile", "smoke", "--tasks", "hopper-tiny", "--workers", "1", "--measurements",
                              str(tmp_path / "measurements"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "FAILED hopper-tiny seed 0: RuntimeError: world model diverged" in err and "1 measurement(s) failed" in err
    assert "Missing (1): hopper-tiny seed 0." in out.read_text()
