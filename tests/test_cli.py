"""Bad input ends with exit code 2, a message naming the fix, and nothing written."""

import json

import pytest

from benchmark.cli import main


@pytest.mark.parametrize("argv, expected", [
    (["run", "--suite", "nope"], "valid suites: d4rl9, smoke"),
    (["run", "--tasks", "hopper-medium-v9"], "valid tasks:"),
    (["run", "--methods", "cql"], "valid methods: dawm-iql, dawm-t-iql, dawm-t-td3bc, dawm-td3bc, dd, dd-official, "
                                  "dwm-iql, dwm-td3bc, iql, onestep-iql, onestep-td3bc, td3bc"),
    (["run", "--profile", "huge"], "valid profiles: paper, quick, smoke"),
    (["run", "--source", "d4rl"], "valid sources: d4rl-hdf5, local, minari"),
    (["run", "--tasks", "hopper-medium-v2"], "Three ways to get hopper-medium-v2"),
    (["run", "--tasks", "hopper-medium-replay-v2", "--source", "minari"], "no medium-replay"),
    (["status", "--suite", "nope"], "valid suites"),
])
def test_bad_input_exits_2_and_writes_nothing(argv, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("benchmark.data.recipe.BEHAVIOUR_DIR", tmp_path / "no-behaviour-runs")
    results = tmp_path / "results"
    assert main([*argv, "--results", str(results)]) == 2
    assert expected in capsys.readouterr().err
    assert not results.exists()


def test_bad_hdf5_file_names_the_key(tmp_path, capsys):
    import h5py

    with h5py.File(tmp_path / "hopper_medium-v2.hdf5", "w") as file:
        file["observations"] = [[0.0] * 11]
    results = tmp_path / "results"
    code = main(["run", "--tasks", "hopper-medium-v2", "--methods", "td3bc", "--source", "d4rl-hdf5",
                 "--hdf5-dir", str(tmp_path), "--results", str(results), "--logs", str(tmp_path / "logs")])
    assert code == 2
    assert "missing key 'actions'" in capsys.readouterr().err
    assert not results.exists()


def test_discovery_lists_names_and_prints_one_resolved_config(capsys):
    assert main(["list", "methods"]) == 0
    assert "dawm-t-iql" in capsys.readouterr().out
    assert main(["hparams", "--method", "iql", "--task", "hopper-medium-v2"]) == 0
    out = capsys.readouterr().out
    assert "deterministic_actor: true" in out and "# tau: code: CORL configs/offline/iql/hopper" in out
    assert main(["hparams", "--method", "iql"]) == 2


def _options(parser) -> dict[str, object]:
    return {action.option_strings[-1]: action.default for action in parser._actions if action.option_strings}


def _subcommand(name: str):
    from benchmark.cli import parser

    return parser()._subparsers._group_actions[0].choices[name]


def test_run_and_the_ablations_share_one_definition_of_their_options(monkeypatch):
    from ablations import data_volume, horizon, idm_accuracy
    from benchmark import options

    shared = _options(options.selection()) | _options(options.storage()) | _options(options.execution())
    run = _options(_subcommand("run"))
    assert {name: run[name] for name in shared} == {**shared, "--tasks": None, "--seeds": None, "--profile": None}
    for module in (horizon, data_volume):
        ablation = _options(_captured_parser(module, monkeypatch))
        assert {name: ablation[name] for name in shared if name not in ("--tasks", "--seeds", "--profile")} == {
            name: value for name, value in shared.items() if name not in ("--tasks", "--seeds", "--profile")}
    measurement = _options(_captured_parser(idm_accuracy, monkeypatch))
    assert measurement["--executor"] == "local" and measurement["--cache"] == ".cache"


def _captured_parser(module, monkeypatch):
    """The parser a module's main() builds, captured when it parses its arguments."""
    import argparse

    captured = []

    def capture(self, *args, **kwargs):
        captured.append(self)
        raise SystemExit(0)

    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", capture)
        with pytest.raises(SystemExit):
            module.main([])
    return captured[0]


@pytest.mark.parametrize("argv", [["run", "--executor", "k8s"], ["run", "--logger", "mlflow"]])
def test_enforced_choices_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["horizon", "data_volume", "idm_accuracy"])
def test_an_ablation_refuses_a_misspelt_option_with_exit_2(module):
    import importlib

    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(f"ablations.{module}").main(["--executer", "slurm"])
    assert exit_info.value.code == 2


def test_no_prefix_matching_of_options(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--result", str(tmp_path)])  # --results, misspelt: an error, not a silent match
    assert exit_info.value.code == 2


def test_atomic_files_get_the_umask_mode(tmp_path):
    import os

    from benchmark.results import write_json_atomic

    previous = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_progress_without_a_terminal_is_plain_lines_and_bars_reset_per_phase(tmp_path, capsys):
    from benchmark.launch.launcher import Monitor, progress_path
    from benchmark.results import write_json_atomic
    from benchmark.grid.runspec import RunSpec

    spec = RunSpec("hopper-tiny", "dwm-td3bc", 0, "smoke")
    write_json_atomic(progress_path(tmp_path, spec), {"phase": "world model", "step": 50, "total": 100, "score": None})
    lines = Monitor(1, tmp_path, 1, "lines")  # what a log file or a pipe gets
    lines.refresh(spec)
    lines.refresh(spec)  # within LINE_EVERY_S: nothing new
    lines.finish(spec, "done   hopper-tiny/dwm-td3bc/seed0")
    err = capsys.readouterr().err
    assert err.splitlines() == ["hopper-tiny/dwm-td3bc/seed0 [world model] 50/100",
                                "done   hopper-tiny/dwm-td3bc/seed0 [1/1]"] and "\r" not in err and "\x1b[" not in err

    bars = Monitor(1, tmp_path, 1, "bars")
    bars.refresh(spec)
    bar = bars.bars[spec.name][0]
    started = bar.start_t
    __import__("time").sleep(0.05)
    write_json_atomic(progress_path(tmp_path, spec), {"phase": "train", "step": 3, "total": 400, "score": 2.0})
    bars.refresh(spec)
    assert bars.bars[spec.name][2] == "train" and bar.total == 400 and bar.start_t > started  # the phase's own clock
    bars.close()
    capsys.readouterr()

    quiet = Monitor(1, tmp_path, 1, "quiet")
    quiet.refresh(spec)
    assert capsys.readouterr().err == ""


def test_dry_run_prints_the_cost_and_runs_nothing(tmp_path, capsys):
    from tests.report_fixtures import write_result

    results = tmp_path / "results"
    done = write_result(results, "hopper-medium-v2", "td3bc", 0, 50.0)
    assert main(["run", "--suite", "d4rl9", "--methods", "td3bc", "dwm-td3bc", "--seeds", "0", "--dry-run",
                 "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "18 runs, 1 done, 17 to run" in out and "nothing was started" in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert "(measured)" in rows["td3bc"] and "(estimate)" in rows["dwm-td3bc"]  # 1.0 s from the result file
    assert sorted(p.name for p in results.rglob("*") if p.is_file()) == [done.name]  # nothing written


def test_dry_run_prices_again_a_world_model_a_finished_run_used_once_it_is_gone_from_the_cache(tmp_path, capsys):
    import dataclasses

    from benchmark.grid.hyperparams import resolve
    from benchmark.results import write_json_atomic
    from tests.report_fixtures import write_result

    results, cache = tmp_path / "results", tmp_path / "cache"
    path = write_result(results, "hopper-medium-v2", "dwm-td3bc", 0, 50.0)
    result = json.loads(path.read_text())
    configs = resolve("dwm-td3bc", "hopper-medium-v2").configs
    write_json_atomic(path, result | {"config": {name: dataclasses.asdict(config) for name, config in configs.items()},
                                      "artifacts": {"world_model": {"key": "0123abcd", "train_time_s": 1800.0},
                                                    "rollout_bank": {"key": "4567cdef", "rollouts": 2_000_000}}})
    (cache / "world_models" / "0123abcd").mkdir(parents=True)
    (cache / "banks" / "4567cdef").mkdir(parents=True)

    def world_model_row() -> list[str]:
        assert main(["run", "--suite", "d4rl9", "--tasks", "hopper-medium-v2", "--methods", "dwm-td3bc", "dwm-iql",
                     "--seeds", "0", "--dry-run", "--results", str(results), "--cache", str(cache)]) == 0
        (line,) = [line for line in capsys.readouterr().out.splitlines() if "shared: diffusion world model" in line]
        return [cell.strip() for cell in line.split("|")[2:-1]]

    assert world_model_row() == ["1", "1", "0", "0.50 (measured)", "0"]
    (cache / "world_models" / "0123abcd").rmdir()
    assert world_model_row() == ["1", "0", "1", "0.50 (measured)", "0.5"]


def test_overrides_are_checked_typed_recorded_and_their_own_runs(tiny_hopper, tmp_path):
    import dataclasses
    import json

    from benchmark.cli import build_grid, parser
    from benchmark.run.runner import train_run

    config = tmp_path / "override.yaml"
    config.write_text("agent:\n  hidden: [64, 64]\n")
    args = parser().parse_args(["run", "--methods", "td3bc", "--set", "agent.tau=0.001", "agent.policy_freq=3",
                                "--config", str(config)])
    (spec,) = build_grid(args)
    assert spec.overrides == (("agent", "hidden", (64, 64)), ("agent", "tau", 0.001), ("agent", "policy_freq", 3))
    assert spec.variant.startswith("set-") and spec.result_path(tmp_path).parent.name == f"td3bc+{spec.variant}"
    assert build_grid(parser().parse_args(["run", "--methods", "td3bc", "--set", "agent.tau=0.002"]))[0].variant \
        != spec.variant  # other overrides, another run
    result = train_run(dataclasses.replace(spec, budget=(("train_steps", 4),)), tmp_path)
    assert result["config"]["agent"]["tau"] == 0.001 and tuple(result["config"]["agent"]["hidden"]) == (64, 64)
    assert result["config_sources"]["agent"]["tau"].startswith("cli: agent.hidden=(64, 64), agent.tau=0.001")
    assert json.loads(spec.result_path(tmp_path).read_text())["run"]["variant"] == spec.variant


@pytest.mark.parametrize("argv, expected", [
    (["--set", "agent.tua=1"], "TD3BCConfig has no field 'tua'; its fields: batch_size"),
    (["--set", "agent.tau=fast"], "'fast' is not a float like the default 0.005"),
    (["--set", "agent.policy_freq=2.5"], "2.5 is not a int like the default 2"),
    (["--set", "tau=1"], "write component.field=value"),
    (["--set", "world_model.width=8"], "method td3bc has no component 'world_model'"),
])
def test_bad_overrides_exit_2(argv, expected, tmp_path, capsys):
    assert main(["run", "--methods", "td3bc", *argv, "--results", str(tmp_path / "results")]) == 2
    assert expected in capsys.readouterr().err and not (tmp_path / "results").exists()


def test_threads_reach_every_run_and_the_default_workers_share_the_cores_among_them(tiny_hopper, tmp_path,
                                                                                    monkeypatch, capsys):
    from benchmark import cli

    launched = {}

    def launch(specs, results_dir, log_dir, executor, workers, *args, **kwargs):
        launched.update(threads={spec.threads for spec in specs}, workers=workers)
        return []

    monkeypatch.setattr(cli, "launch", launch)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 4)
    argv = ["run", "--tasks", "hopper-tiny", "--methods", "td3bc", "iql", "--seeds", "0", "1", "2", "--profile", "smoke",
            "--results", str(tmp_path / "results")]

    def execute(*options):
        args = cli.parser().parse_args([*argv, *options])
        return cli.execute(args, cli.build_grid(args), "test")

    assert execute("--threads", "2") == 0
    assert launched == {"threads": {2}, "workers": 2}  # 4 cores, 2 threads a run: 2 runs at a time
    assert execute() == 0
    assert launched == {"threads": {1}, "workers": 4}
    assert main([*argv, "--threads", "0"]) == 2
    assert "--threads 0: give 1 or more" in capsys.readouterr().err


def test_a_nested_configs_fields_are_overridden_one_by_one_and_the_rest_kept(tmp_path, capsys):
    from algorithms.diffusion.gaussian import SamplerSettings
    from benchmark.cli import build_grid, parser

    config = tmp_path / "sampler.yaml"
    config.write_text("world_model:\n  sampler: {temperature: 1}\n")
    (spec,) = build_grid(parser().parse_args([
        "run", "--methods", "dwm-td3bc", "--tasks", "hopper-medium-v2", "--config", str(config),
        "--set", "world_model.sampler.steps=5", "world_model.sampler.guidance=1"]))
    assert spec.overrides == (("world_model", "sampler", SamplerSettings(steps=5, temperature=1.0, guidance=1.0)),)
    results = tmp_path / "results"
    for item, expected in [("world_model.sampler.stepz=5", "SamplerSettings has no field 'stepz'; its fields: steps, "
                                                           "temperature, guidance"),
                           ("world_model.sampler.steps=2.5", "world_model.sampler.steps: 2.5 is not a int"),
                           ("world_model.sampler=5", "5 is not a mapping of SamplerSettings's fields"),
                           ("world_model.sampler.=5", "write component.field=value")]:
        assert main(["run", "--methods", "dwm-td3bc", "--set", item, "--results", str(results)]) == 2
        assert expected in capsys.readouterr().err and not results.exists()


def test_overrides_are_checked_together_against_the_configs_own_rules(tmp_path, capsys):
    from benchmark.cli import build_grid, parser

    results = tmp_path / "results"
    assert main(["run", "--methods", "dd", "--set", "diffuser.clip_denoised=true", "--results", str(results)]) == 2
    assert "method dd: clip_denoised clamps x0 to [-1, 1], the range of the cdf normalizer only" in \
        capsys.readouterr().err and not results.exists()
    # one field at a time, the first would fail (z-score with clipping); applied together they are valid
    (spec,) = build_grid(parser().parse_args(["run", "--methods", "dd-official", "--tasks", "hopper-medium-v2",
                                              "--set", "diffuser.normalizer=zscore", "diffuser.clip_denoised=false"]))
    assert spec.overrides == (("diffuser", "normalizer", "zscore"), ("diffuser", "clip_denoised", False))


def test_cluster_profiles_pass_sbatch_options_and_setup_lines_through(tmp_path):
    from benchmark.launch.cluster import load_cluster_profile
    from benchmark.errors import UsageError

    parameters = load_cluster_profile("gpu-example").executor_parameters()
    assert parameters["slurm_additional_parameters"] == {"constraint": "a100"}
    assert parameters["slurm_setup"] == ["module load cuda/12.4"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("partition: x\nsetup: module load cuda\n")
    with pytest.raises(UsageError, match="'setup' a list of lines"):
        load_cluster_profile(str(bad))


def test_status_filters_summarises_and_shows_the_progress_of_running_runs(tmp_path, capsys):
    import os

    from benchmark.launch.jobs import JobRecord, process_start, record_job
    from benchmark.results import write_json_atomic
    from benchmark.grid.runspec import RunSpec
    from benchmark.launch.status import render_status

    specs = [RunSpec("hopper-tiny", method, 0, "smoke") for method in ("td3bc", "iql", "dd")]
    results, logs = tmp_path / "results", tmp_path / "logs"
    specs[0].failure_path(results).parent.mkdir(parents=True)
    specs[0].failure_path(results).write_text(
        'Traceback (most recent call last):\n  File "runner.py", line 1, in train_run\nValueError: bad\n')
    record_job(specs[1], results, JobRecord("local", str(os.getpid()), str(logs / str(os.getpid())),
                                            started=process_start(os.getpid())))
    write_json_atomic(logs / "progress" / "hopper-tiny__iql__seed0.json",
                      {"phase": "train", "step": 10, "total": 400, "score": 3.0})
    full = render_status(specs, results)
    assert "running  local job" in full and "; train 10/400, last score 3.0" in full
    failed = render_status(specs, results, only="failed")
    assert failed.splitlines()[0].startswith("hopper-tiny/td3bc/seed0  failed   ValueError: bad")
    assert len(failed.splitlines()) == 2  # the failed run and the counts
    assert render_status(specs, results, summary=True) == "0 done, 0 pending, 1 running, 1 failed, 1 missing"
    assert main(["run", "--methods", "td3bc", "--no-wait", "--results", str(results)]) == 2
    assert "--no-wait needs --executor slurm" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["td3bc", "iql", "onestep-td3bc"])
def test_evaluate_reproduces_a_runs_final_score_from_its_kept_weights(method, tiny_hopper, tmp_path, capsys):
    from benchmark.run.runner import train_run
    from benchmark.grid.runspec import RunSpec

    spec = RunSpec("hopper-tiny", method, 0, "smoke", cache=str(tmp_path / "cache"),
                   budget=(("train_steps", 200), ("model_based_train_steps", 200), ("eval_every", 200)))
    result = train_run(spec, tmp_path / "runs")
    assert spec.weights_path(tmp_path / "runs").is_file()
    assert main(["evaluate", str(spec.result_path(tmp_path / "runs")), "--episodes", "2", "--seed", "0"]) == 0
    assert f"normalised score {result['final_score']:.1f} over 2 episodes" in capsys.readouterr().out


def test_evaluate_names_what_is_missing(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "seed0.json")]) == 2
    assert "not a readable result file" in capsys.readouterr().err


def test_a_results_config_prints_back_as_the_yaml_that_reproduces_it(tmp_path, capsys):
    import yaml

    from benchmark.results import write_json_atomic

    result = tmp_path / "seed0.json"
    write_json_atomic(result, {
        "run": {"task": "hopper-medium-v2", "method": "td3bc", "seed": 2, "profile": "quick", "source": "local"},
        "config": {"agent": {"tau": 0.001, "alpha": 2.5, "hidden": [64, 64]}},
        "config_sources": {"agent": {"tau": "cli: agent.tau=0.001", "alpha": "paper: TD3+BC",
                                     "hidden": "cli: agent.hidden=(64, 64)"}}})
    assert main(["hparams", "--from-result", str(result)]) == 0
    out = capsys.readouterr().out
    assert "--tasks hopper-medium-v2 --methods td3bc --seeds 2 --profile quick --source local --config" in out
    assert yaml.safe_load(out) == {"agent": {"tau": 0.001, "hidden": [64, 64]}}  # only what was overridden


class _FramesOfStepIndex:
    """Stands in for MuJoCo's renderer (CI has no OpenGL): frame k is filled with k, so every frame differs."""

    def __init__(self, env):
        self.env, self.count = env, 0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, **kwargs):
        self.count = 0
        return self.env.reset(**kwargs)

    def render(self):
        self.count += 1
        return __import__("numpy").full((24, 32, 3), self.count % 256, dtype="uint8")


def test_video_records_the_episode_that_evaluate_scores(tiny_hopper, tmp_path, capsys, monkeypatch):
    import gymnasium as gym
    from PIL import Image

    import benchmark.run.evaluate
    from benchmark.run.runner import train_run
    from benchmark.grid.runspec import RunSpec

    spec = RunSpec("hopper-tiny", "td3bc", 0, "smoke", budget=(("train_steps", 20), ("eval_every", 20)))
    result = train_run(spec, tmp_path / "runs")
    monkeypatch.setattr(benchmark.run.evaluate, "rendering_env", lambda env_id: _FramesOfStepIndex(gym.make(env_id)))
    video = tmp_path / "videos" / "hopper.gif"
    assert main(["evaluate", str(spec.result_path(tmp_path / "runs")), "--video", str(video)]) == 0
    first = result["evaluations"][-1]
    out = capsys.readouterr().out
    assert f"{first['lengths'][0]} steps" in out and f"normalised score {first['scores'][0]:.1f}" in out
    with Image.open(video) as gif:
        assert gif.n_frames == first["lengths"][0] + 1  # the start state, then one frame per step
    assert [p.name for p in video.parent.iterdir()] == ["hopper.gif"]  # no temporary file left


def test_video_without_opengl_names_the_backend_and_writes_nothing(tiny_hopper, tmp_path, capsys, monkeypatch):
    import benchmark.run.evaluate
    from benchmark.run.runner import train_run
    from benchmark.grid.runspec import RunSpec

    spec = RunSpec("hopper-tiny", "td3bc", 0, "smoke", budget=(("train_steps", 20), ("eval_every", 20)))
    train_run(spec, tmp_path / "runs")

    def no_context(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'glGetError'")

    monkeypatch.setattr(benchmark.run.evaluate.gym, "make", no_context)
    video = tmp_path / "videos" / "hopper.gif"
    assert main(["evaluate", str(spec.result_path(tmp_path / "runs")), "--video", str(video)]) == 2
    assert "MUJOCO_GL=egl" in capsys.readouterr().err
    assert not video.parent.exists()
    assert main(["evaluate", str(spec.result_path(tmp_path / "runs")), "--video", str(tmp_path / "a.mp4")]) == 2


def test_the_hyperparameter_table_holds_the_quick_model_budgets_and_who_spends_them():
    from benchmark.grid.hyperparams import table_rows
    from benchmark.grid.profiles import QUICK_MODEL_BUDGETS

    rows = {row["field"]: row for row in table_rows() if row["config"] == "Profile quick"}
    assert rows["world_model_steps"]["value"] == "50000" and rows["world_model_steps"]["source"] == QUICK_MODEL_BUDGETS
    assert rows["idm_steps"]["methods"] == "dawm-td3bc, dawm-iql, dawm-t-td3bc, dawm-t-iql, dd, dd-official"
    assert rows["one_step_model_steps"]["methods"] == "onestep-td3bc, onestep-iql"
