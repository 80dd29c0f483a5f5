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
    run_measurements(specs, job, tmp_path / "measurements", "test", "local", "local", workers=2)

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
