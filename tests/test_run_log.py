"""A run's losses and scores reach the job's log, TensorBoard and W&B (offline), and resumed runs stay coherent."""

import json
import logging

import pytest

from benchmark.cli import main
from benchmark.run.runner import train_run
from benchmark.grid.runspec import RunSpec

BUDGET = (("train_steps", 6), ("eval_every", 3), ("eval_episodes", 1))


def spec(**kwargs) -> RunSpec:
    return RunSpec("hopper-tiny", "td3bc", 0, "smoke", budget=BUDGET, **{"log_every": 2} | kwargs)


def tensorboard_scalars(folder) -> dict[str, list[int]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [event.step for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_losses_at_the_cadence_and_every_evaluation_reach_the_log(tiny_hopper, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="benchmark.run"):
        result = train_run(spec(), tmp_path)
    lines = [record.getMessage() for record in caplog.records if record.name == "benchmark.run"]
    train = [line for line in lines if " train step " in line]
    assert [line.split(" train step ")[1].split(":")[0] for line in train] == ["2", "4", "6"]
    assert all("critic_loss=" in line for line in train)
    scores = [float(line.split("score=")[1].split()[0]) for line in lines if " eval step " in line]
    assert scores == pytest.approx([e["score"] for e in result["evaluations"]], rel=1e-3)


def test_tensorboard_gets_train_and_eval_scalars_and_a_resume_drops_the_steps_after_its_checkpoint(
        tiny_hopper, tmp_path):
    result = train_run(spec(logger="tensorboard"), tmp_path)
    folder = tmp_path / "tensorboard" / "smoke" / "local" / "hopper-tiny" / "td3bc" / "seed0"
    scalars = tensorboard_scalars(folder)
    assert scalars["train/critic_loss"] == [2, 4, 6]
    assert scalars["eval/score"] == [e["step"] for e in result["evaluations"]] == [3, 6]

    from torch.utils.tensorboard import SummaryWriter  # a resumed run's events overwrite the ones after step 3

    writer = SummaryWriter(str(folder), purge_step=4)
    writer.add_scalar("train/critic_loss", 1.0, 4)
    writer.close()
    assert tensorboard_scalars(folder)["train/critic_loss"] == [2, 4]


def test_wandb_offline_run_holds_the_config_and_scores(tiny_hopper, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    train_run(spec(logger="wandb"), tmp_path)
    runs = list((tmp_path / "wandb" / "smoke" / "local" / "hopper-tiny" / "td3bc" / "seed0" / "wandb").glob(
        "offline-run-*"))
    assert len(runs) == 1
    (record,) = runs[0].glob("*.wandb")  # what `wandb sync` uploads later
    content = record.read_bytes()
    assert all(key in content for key in (b"batch_size", b"eval/score", b"train/critic_loss"))


def test_a_logger_whose_package_is_missing_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    results = tmp_path / "results"
    assert main(["run", "--methods", "td3bc", "--logger", "wandb", "--results", str(results)]) == 2
    assert 'pip install -e ".[wandb]"' in capsys.readouterr().err
    assert not results.exists()


def test_result_files_do_not_depend_on_the_logger(tiny_hopper, tmp_path):
    plain = train_run(spec(), tmp_path / "plain")
    logged = train_run(spec(logger="tensorboard", log_every=1), tmp_path / "logged")
    assert [e["score"] for e in plain["evaluations"]] == [e["score"] for e in logged["evaluations"]]
    assert json.dumps(plain["config"]) == json.dumps(logged["config"])
