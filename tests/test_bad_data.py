"""Bad data and broken result files never become results: refused up front, or set aside and redone."""

import dataclasses
import json

import h5py
import numpy as np
import pytest

from benchmark.cli import build_grid, main, parser
from benchmark.run.completion import is_done, result_state
from benchmark.data import DataSpec, load_dataset
from benchmark.errors import exit_2_on_usage_error
from benchmark.grid.profiles import get_profile
from benchmark.grid.runspec import RunSpec
from benchmark.envs.tasks import parse_task


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


# Each command's options that would write, pointed under tmp_path; the ablations with a report write it even with
# --report-only, which is why they get it.
_COMMAND_OUTPUTS = {
    "run": ["--results", "{tmp}/results", "--cache", "{tmp}/cache"],
    "horizon": ["--report-only", "--results", "{tmp}/results", "--out", "{tmp}/out.md"],
    "data_volume": ["--report-only", "--results", "{tmp}/results", "--out", "{tmp}/out.md"],
    "idm_accuracy": ["--measurements", "{tmp}/measurements", "--cache", "{tmp}/cache", "--out", "{tmp}/out.md"],
    "model_budget": ["--measurements", "{tmp}/measurements", "--cache", "{tmp}/cache"],
}


@pytest.mark.parametrize("command", list(_COMMAND_OUTPUTS))
@pytest.mark.parametrize("option, expected", [
    (["--seeds", "0", "-1"], "--seeds -1: seeds must be 0 or more"),
    (["--tasks", "hopper-medium-v2", "hopper-m"], "unknown task 'hopper-m'"),
])
def test_every_command_checks_seeds_and_tasks_as_it_reads_them(command, option, expected, tmp_path, capsys):
    """One definition (`benchmark/options.py`) for the run command and the ablations: a bad seed or task exits 2
    before anything is read or written."""
    import importlib

    outputs = [arg.format(tmp=tmp_path) for arg in _COMMAND_OUTPUTS[command]]
    if command == "run":
        code = main(["run", *outputs, *option])
    else:
        code = importlib.import_module(f"ablations.{command}").main([*outputs, *option])
    assert code == 2
    assert expected in capsys.readouterr().err and not any(tmp_path.iterdir())


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


def _result(spec: RunSpec, checksum="c" * 64, version=None, budgets=None):
    from benchmark.grid.methods import get_method

    version = get_method(spec.method).version if version is None else version
    return {"run": {"task": spec.task, "method": spec.method, "variant": spec.variant, "seed": spec.seed,
                    "profile": spec.profile, "source": spec.data.source, "method_version": version},
            "profile": dataclasses.asdict(get_profile(spec.profile)) | (budgets or {}),
            "dataset": {"checksum": checksum}, "final_score": 1.0, "best_score": 1.0}


def test_only_a_current_result_counts_as_done_and_others_are_kept_aside(tmp_path, capsys):
    from benchmark.launch.status import run_status

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

    model_based = RunSpec("hopper-medium-v2", "dawm-td3bc", 0, "quick")
    model_based.result_path(tmp_path).parent.mkdir(parents=True)
    for method_spec in (spec, model_based):  # the quick profile's world model had 15k steps when they ran
        method_spec.result_path(tmp_path).write_text(json.dumps(_result(method_spec,
                                                                        budgets={"world_model_steps": 15_000})))
    assert result_state(spec, tmp_path) == ("done", "")  # TD3+BC trains no world model: still comparable
    now = get_profile("quick").world_model_steps
    assert result_state(model_based, tmp_path) == ("stale", f"quick profile's world_model_steps 15000 (now {now})")

    path.write_text('{"run": {"task": "hopper')  # truncated
    state, detail = run_status(spec, tmp_path)
    assert state == "missing" and "unreadable" in detail  # status names it and does not crash
    assert not is_done(spec, tmp_path) and len(list(path.parent.glob("seed0.json.unreadable-*"))) == 1


def test_a_non_finite_score_is_never_recorded_as_finished(tiny_hopper, tmp_path, monkeypatch):
    from benchmark.envs.evaluation import EvalResult
    from benchmark.run.runner import train_run

    nan = EvalResult(np.full(2, np.nan), np.ones(2, dtype=np.int64), np.full(2, np.nan))
    monkeypatch.setattr("benchmark.run.runner.evaluate", lambda *args, **kwargs: nan)
    spec = RunSpec("hopper-tiny", "td3bc", 0, "smoke", budget=(("train_steps", 4),))
    with pytest.raises(FloatingPointError, match="non-finite evaluation scores"):
        train_run(spec, tmp_path)
    assert not spec.result_path(tmp_path).exists()


@pytest.mark.parametrize("damage", ["not-hdf5", "truncated"])
def test_a_malformed_d4rl_file_exits_2_naming_it(damage, tmp_path, capsys):
    path = write_hdf5(tmp_path, n=5000)
    if damage == "not-hdf5":
        path.write_text("<html>a download error page</html>")
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    code = main(["run", "--tasks", "hopper-medium-v2", "--methods", "td3bc", "--source", "d4rl-hdf5", "--hdf5-dir",
                 str(tmp_path), "--results", str(tmp_path / "results"), "--logs", str(tmp_path / "logs")])
    err = capsys.readouterr().err
    assert code == 2 and str(path) in err and "replace it with D4RL's original" in err
    assert "Traceback" not in err and not (tmp_path / "results").exists()


def test_a_truncated_local_dataset_names_the_rebuild_command(tiny_hopper, tmp_path, monkeypatch):
    import shutil

    from benchmark.data.minari_io import datasets_root
    from benchmark.data.validation import InvalidDatasetError

    copy = tmp_path / "datasets"
    shutil.copytree(datasets_root(), copy, ignore=shutil.ignore_patterns("*.lock"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(copy))
    data_file = copy / "local" / "hopper" / "tiny-v1" / "data" / "main_data.hdf5"
    data_file.write_bytes(data_file.read_bytes()[:4096])
    with pytest.raises(InvalidDatasetError, match="cannot be read .* Delete it and rebuild it: `python -m "
                                                  "benchmark.data build --env hopper --datasets tiny`"):
        load_dataset(parse_task("hopper-tiny"), DataSpec("local"))


def test_mujoco_warnings_leave_no_log_file_in_the_working_folder(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    code = ("import gymnasium as gym, numpy as np; from benchmark.envs.evaluation import route_mujoco_warnings; "
            "route_mujoco_warnings(); env = gym.make('Hopper-v5'); env.reset(seed=0); "
            "[env.step(np.full(3, np.nan)) for _ in range(3)]")  # NaN actions: MuJoCo warns
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 0, done.stderr
    assert "simulation is unstable" in done.stderr and not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_results_folder_that_cannot_be_written_or_is_full_stops_before_submitting(tiny_hopper, tmp_path, capsys,
                                                                                   monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["run", "--methods", "td3bc", "--results", str(blocker / "results")]) == 2
    assert "cannot be written to" in capsys.readouterr().err

    monkeypatch.setattr("shutil.disk_usage", lambda path: __import__("collections").namedtuple(
        "usage", "total used free")(10 ** 9, 10 ** 9, 10 ** 6))
    assert main(["run", "--methods", "td3bc", "--results", str(tmp_path / "results")]) == 2
    assert "1 MB free on its disk" in capsys.readouterr().err
    assert list((tmp_path / "results").iterdir()) == []  # nothing submitted, nothing written


def test_a_full_disk_is_named_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    import errno

    from benchmark.results import save_durably

    def full(state, handle):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("torch.save", full)
    with pytest.raises(OSError, match="disk full while writing .*seed0.ckpt"):
        save_durably({"x": 1}, tmp_path / "seed0.ckpt")
    assert list(tmp_path.iterdir()) == []


def test_broken_cache_entries_and_checkpoints_heal(tiny_hopper, tmp_path, capsys):
    import torch

    from benchmark.run.artifacts import world_model
    from benchmark.data import DataSpec
    from benchmark.run.runner import train_run
    from tests.test_world_model import CONFIG, episode_data

    data = episode_data()
    _, first = world_model(data, CONFIG, steps=2, seed=0, device=torch.device("cpu"), cache=tmp_path)
    (first.path.parent / "meta.json").unlink()  # what a kill between the two writes of the old code left
    _, again = world_model(data, CONFIG, steps=2, seed=0, device=torch.device("cpu"), cache=tmp_path)
    assert again.sha256 == first.sha256 and (again.path.parent / "meta.json").is_file()
    assert "cannot be read" in capsys.readouterr().err
    assert len(list(first.path.parent.parent.glob("*.broken-*"))) == 1  # set aside, not deleted

    spec = RunSpec("hopper-tiny", "td3bc", 0, "smoke", DataSpec(), budget=(("train_steps", 4),))
    checkpoint = spec.checkpoint_path(tmp_path / "runs")
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"truncated")
    (checkpoint.parent / f".{checkpoint.name}.123.tmp").write_bytes(b"a killed writer's leftover")
    result = train_run(spec, tmp_path / "runs")
    assert result["resumed_at_steps"] == [] and "starts from the beginning" in capsys.readouterr().err
    assert not list(checkpoint.parent.glob(".*.tmp"))


def test_a_reused_pid_or_another_host_is_not_a_running_job():
    import os

    from benchmark.launch.jobs import JobRecord, process_start

    me = str(os.getpid())
    assert JobRecord("local", me, "f", started=process_start(os.getpid())).state() == "running"
    assert JobRecord("local", me, "f", started="1").state() == "ended"  # same PID, another process
    assert JobRecord("local", me, "f", host="elsewhere", started=process_start(os.getpid())).state() == "ended"
