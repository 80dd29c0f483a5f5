"""Bad data and broken result files never become results: refused up front, or set aside and redone."""

import json

import h5py
import numpy as np
import pytest

from benchmark.cli import build_grid, main, parser
from benchmark.completion import is_done, result_state
from benchmark.data import DataSpec, load_dataset
from benchmark.errors import exit_2_on_usage_error
from benchmark.runspec import RunSpec
from benchmark.tasks import parse_task


def write_hdf5(folder, n=50, **override):
    rng = np.random.default_rng(0)
    arrays = {"observations": rng.normal(size=(n, 11)), "actions": rng.uniform(-1, 1, (n, 3)),
              "rewards": rng.normal(size=n), "terminals": np.zeros(n), "timeouts": (np.arange(n) % 10 == 9) * 1.0}
    arrays.update(override)
    path = folder / "hopper_medium-v2.hdf5"
    with h5py.File(path, "w") as file:
        for key, value in arrays.items():
            file[key] = value
    return path


def _with(n, name, row, value, shape=()):
    rng = np.random.default_rng(1)
    array = rng.uniform(-1, 1, (n, *shape)) if shape else rng.normal(size=n)
    array[row] = value
    return {name: array}


@pytest.mark.parametrize("override, expected", [
    (_with(50, "rewards", 3, np.nan), "1 rows of rewards hold NaN or inf (first: row 3)"),
    (_with(50, "observations", 7, np.inf, (11,)), "rows of observations hold NaN or inf (first: row 7)"),
    ({"actions": np.full((50, 3), 5.0)}, "outside the action space [-1, 1]"),
    ({"terminals": np.array([b"no"] * 50)}, "terminals has dtype |S2"),
    ({"terminals": np.full(50, 2.0)}, "terminals must be 0/1 or boolean"),
    ({"observations": np.zeros((1, 11)), "actions": np.zeros((1, 3)), "rewards": np.zeros(1),
      "terminals": np.zeros(1), "timeouts": np.zeros(1)}, "a dataset needs at least two"),
], ids=["nan-reward", "inf-observation", "actions-out-of-bounds", "string-terminals", "terminals-2", "one-row"])
def test_bad_data_is_refused_before_anything_runs(override, expected, tmp_path, capsys):
    path = write_hdf5(tmp_path, **override)
    results = tmp_path / "results"
    code = main(["run", "--tasks", "hopper-medium-v2", "--methods", "td3bc", "--source", "d4rl-hdf5", "--hdf5-dir",
                 str(tmp_path), "--results", str(results), "--logs", str(tmp_path / "logs")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and str(path) in err
    assert not results.exists() and not (tmp_path / "logs").exists()


def test_clip_actions_is_explicit(tmp_path):
    write_hdf5(tmp_path, actions=np.full((50, 3), 5.0))
    task = parse_task("hopper-medium-v2")
    data = load_dataset(task, DataSpec("d4rl-hdf5", hdf5_dir=str(tmp_path), clip_actions=True)).transitions
    assert data.actions.max() == 1.0


@pytest.mark.parametrize("argv, expected", [
    (["run", "--workers", "-1"], "--workers -1: give 1 or more"),
    (["run", "--workers", "0"], "--workers 0: give 1 or more"),
    (["run", "--seeds", "-3"], "seeds must be 0 or more"),
])
def test_numeric_options_are_checked_up_front(argv, expected, tmp_path, capsys):
    assert main([*argv, "--results", str(tmp_path / "results")]) == 2
    assert expected in capsys.readouterr().err and not (tmp_path / "results").exists()


def test_data_build_checks_workers(capsys):
    from benchmark.data.__main__ import main as data_main

    assert data_main(["build", "--workers", "0"]) == 2 and "give 1 or more" in capsys.readouterr().err


def test_a_seed_or_name_given_twice_is_one_run():
    args = parser().parse_args(["run", "--seeds", "0", "0", "--methods", "td3bc", "td3bc"])
    assert len(build_grid(args)) == 1


def test_slurm_executor_without_slurm_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["run", "--executor", "slurm", "--results", str(tmp_path / "results")]) == 2
    assert "SLURM is not installed here" in capsys.readouterr().err


def test_ctrl_c_says_how_to_resume(capsys):
    @exit_2_on_usage_error
    def interrupted() -> int:
        raise KeyboardInterrupt

    assert interrupted() == 130 and "rerun the same command to continue" in capsys.readouterr().err


def _result(spec: RunSpec, checksum="c" * 64, version=1):
    return {"run": {"task": spec.task, "method": spec.method, "variant": spec.variant, "seed": spec.seed,
                    "profile": spec.profile, "source": spec.data.source, "method_version": version},
            "dataset": {"checksum": checksum}, "final_score": 1.0, "best_score": 1.0}


def test_only_a_current_result_counts_as_done_and_others_are_kept_aside(tmp_path, capsys):
    from benchmark.status import run_status

    spec = RunSpec("hopper-medium-v2", "td3bc", 0, "quick")
    path = spec.result_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_result(spec)))
    assert result_state(spec, tmp_path, "c" * 64) == ("done", "") and is_done(spec, tmp_path, "c" * 64)

    assert not is_done(spec, tmp_path, "d" * 64)  # the dataset was rebuilt: rerun, keep the old result aside
    assert not path.exists() and len(list(path.parent.glob("seed0.json.stale-*"))) == 1
    assert "dataset checksum cccccccccccc (now dddddddddddd)" in capsys.readouterr().err

    path.write_text(json.dumps(_result(spec, version=0)))
    assert result_state(spec, tmp_path)[0] == "stale"  # made by an older version of the method

    path.write_text('{"run": {"task": "hopper')  # truncated
    state, detail = run_status(spec, tmp_path)
    assert state == "missing" and "unreadable" in detail  # status names it and does not crash
    assert not is_done(spec, tmp_path) and len(list(path.parent.glob("seed0.json.unreadable-*"))) == 1


def test_a_non_finite_score_is_never_recorded_as_finished(tiny_hopper, tmp_path, monkeypatch):
    from benchmark.evaluation import EvalResult
    from benchmark.runner import train_run

    nan = EvalResult(np.full(2, np.nan), np.ones(2, dtype=np.int64), np.full(2, np.nan))
    monkeypatch.setattr("benchmark.runner.evaluate", lambda *args, **kwargs: nan)
    spec = RunSpec("hopper-tiny", "td3bc", 0, "smoke", budget=(("train_steps", 4),))
    with pytest.raises(FloatingPointError, match="non-finite evaluation scores"):
        train_run(spec, tmp_path)
    assert not spec.result_path(tmp_path).exists()
