"""The IDM-accuracy ablation: its metrics against hand computations, the MuJoCo oracle, the held-out split, and
the command end to end on the tiny hopper data."""

import json
import math

import numpy as np
import pytest
import torch

from ablations.idm_accuracy import main as idm_accuracy
from ablations.model_accuracy import action_metrics, state_reward_errors
from benchmark.data.normalization import StateNormalizer
from benchmark.data.transitions import Transitions


def _episodes(lengths: list[int], terminal_last: list[bool]) -> Transitions:
    n = sum(lengths)
    ends = np.cumsum(lengths) - 1
    terminals, timeouts = np.zeros(n, bool), np.zeros(n, bool)
    terminals[ends[np.asarray(terminal_last)]] = True
    timeouts[ends[~np.asarray(terminal_last)]] = True
    timeouts[-1] = False  # the data's last episode ends with the data, unflagged
    observations = np.arange(n, dtype=np.float32)[:, None].repeat(2, 1)
    return Transitions(observations, np.zeros((n, 1), np.float32), np.arange(n, dtype=np.float32),
                       observations + 0.5, terminals, timeouts)


def test_split_keeps_whole_episodes_on_each_side():
    data = _episodes([3, 2, 4, 1, 5], [True, False, True, False, False])
    train, held = data.split_episodes(0.4, seed=0)
    assert train.size + held.size == data.size
    assert not set(train.rewards.tolist()) & set(held.rewards.tolist())  # rewards are row ids: disjoint
    assert len(held.episode_bounds()[0]) == 2 and len(train.episode_bounds()[0]) == 3
    for part in (train, held):
        starts, ends = part.episode_bounds()
        for start, end in zip(starts, ends):  # each episode is a run of consecutive original rows
            assert np.array_equal(part.rewards[start:end], np.arange(part.rewards[start], part.rewards[start] + end -
                                                                     start))
        assert (part.terminals | part.timeouts)[ends - 1].all()  # every episode still ends, the last one too
    last_kept = data.take_episodes(np.array([4]))
    assert last_kept.timeouts[-1] and not last_kept.terminals[-1]  # cut by the data's end: a timeout


def test_action_metrics_against_hand_computation():
    mean = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    actions = torch.tensor([[0.0, 0.05], [0.5, 0.0]])
    variance = torch.tensor([[1.0, 1.0], [0.25, 1.0]])
    metrics = action_metrics(mean, variance, actions)
    assert metrics["mse"] == pytest.approx((0.05 ** 2 + 0.5 ** 2) / 4)
    assert metrics["within_tolerance"] == pytest.approx(0.5)  # row 0: both within 0.1; row 1: 0.5 off
    log_densities = [-0.5 * (math.log(2 * math.pi * v) + e ** 2 / v)
                     for e, v in ((0.0, 1.0), (0.05, 1.0), (0.5, 0.25), (0.0, 1.0))]
    assert metrics["log_likelihood"] == pytest.approx(sum(log_densities) / 4, rel=1e-5)
    assert metrics["rmse_dim0"] == pytest.approx(math.sqrt(0.25 / 2))
    assert metrics["rmse_dim1"] == pytest.approx(math.sqrt(0.05 ** 2 / 2))


def test_state_errors_are_in_data_standard_deviations():
    normalizer = StateNormalizer((5.0, 0.0), (2.0, 0.5))
    states, reference = np.array([[7.0, 0.0]], np.float32), np.array([[5.0, 1.0]], np.float32)
    errors = state_reward_errors(states, reference, np.array([1.0]), np.array([0.25]), normalizer)
    assert errors["state_rmse"] == pytest.approx(math.sqrt((1.0 ** 2 + 2.0 ** 2) / 2))  # (2 / 2, 1 / 0.5)
    assert errors["reward_mae"] == pytest.approx(0.75)


def test_simulator_replays_real_transitions_exactly(tiny_hopper):
    from benchmark.data import load_dataset
    from benchmark.data.sources import DataSpec
    from benchmark.envs.simulator import Simulator
    from benchmark.envs.tasks import parse_task

    data = load_dataset(parse_task("hopper-tiny"), DataSpec()).transitions
    simulator = Simulator("Hopper-v5", "hopper")
    rows = np.flatnonzero(simulator.restorable(data.observations))[:200]
    assert len(rows) == 200
    next_observations, rewards = simulator.step(data.observations[rows], data.actions[rows])
    assert np.abs(next_observations - data.next_observations[rows]).max() < 1e-4
    assert np.abs(rewards - data.rewards[rows]).max() < 1e-4
    at_bound = data.observations[rows[:1]].copy()
    at_bound[0, -1] = 10.0  # a velocity at gymnasium's clip bound cannot be restored
    assert not simulator.restorable(at_bound)[0]
    simulator.close()


def test_idm_accuracy_end_to_end_on_smoke_models(tiny_hopper, tmp_path, capsys):
    measurements, out = tmp_path / "measurements", tmp_path / "results" / "idm_accuracy.md"
    common = ["--profile", "smoke", "--tasks", "hopper-tiny", "--measurements", str(measurements), "--out", str(out)]
    assert idm_accuracy([*common, "--starts", "64", "--cache", str(tmp_path / "cache")]) == 0
    measurement = json.loads((measurements / "smoke" / "local" / "hopper-tiny" / "seed0.json").read_text())
    records = {(r["section"], r["series"], r["step"], r["metric"]): r for r in measurement["records"]}
    oracle = records[("dynamics", "real (s, a)", None, "state_rmse")]
    assert oracle["value"] < 1e-4 and oracle["count"] > 0  # MuJoCo put in a real state reproduces its successor
    # DAWM's transition at h = 0 keeps the real a_t, so MuJoCo gives the real s_{t+1}: the world model's 1-step error
    assert records[("dynamics", "generated, real RTG", 0, "state_rmse")]["value"] == pytest.approx(
        records[("k_step", "diffusion world model", 1, "state_rmse")]["value"], rel=1e-4)
    k_steps = {k for (section, _, k, metric) in records if section == "k_step" and metric == "state_rmse"}
    assert k_steps == set(range(1, 8))
    assert measurement["dataset"]["held_out_transitions"] + measurement["dataset"]["train_transitions"] == 5000
    text = out.read_text()
    for heading in ("### IDM action error", "### IDM per-dimension RMSE", "### Dynamics consistency",
                    "### k-step error", "profile `smoke`"):
        assert heading in text
    for figure in ("idm_accuracy.png", "compounding_error.png"):
        assert (out.parent / "figures" / figure).stat().st_size > 0

    # a measurement of an older build of the dataset is kept aside and measured again on today's
    path = measurements / "smoke" / "local" / "hopper-tiny" / "seed0.json"
    path.write_text(json.dumps({**measurement, "dataset": {**measurement["dataset"], "checksum": "0" * 64}}))
    assert idm_accuracy([*common, "--starts", "64", "--cache", str(tmp_path / "cache")]) == 0
    assert json.loads(path.read_text())["dataset"]["checksum"] == measurement["dataset"]["checksum"]
    (aside,) = path.parent.glob("seed0.json.stale-*")
    assert json.loads(aside.read_text())["dataset"]["checksum"] == "0" * 64
    assert "measured another build" in capsys.readouterr().err

    assert idm_accuracy([*common, "--report-only", "--seeds", "0", "1"]) == 0
    assert ("Missing (1): hopper-tiny seed 1. Run them with `python -m ablations.idm_accuracy --profile smoke --tasks "
            "hopper-tiny --seeds 0 1`") in out.read_text()
    assert "World-model variants" not in out.read_text()
    from ablations.idm_accuracy import report  # asked for another task: the one measured stays in the report
    text = report(measurements, ["hopper-medium-v2"], [0], "smoke", out)
    assert "## hopper-tiny (seeds 0;" in text and "Missing (1): hopper-medium-v2 seed 0." in text

    # a world-model variant: its own measurement file, its own world model, beside the default in the report
    assert idm_accuracy([*common, "--starts", "64", "--cache", str(tmp_path / "cache"),
                         "--world-model-variants", "eps"]) == 0
    variant = json.loads((measurements / "smoke" / "local" / "hopper-tiny" / "seed0+eps.json").read_text())
    assert variant["run"]["world_model_variant"] == "eps"
    assert variant["artifacts"]["world_model"]["sha256"] != measurement["artifacts"]["world_model"]["sha256"]
    assert variant["artifacts"]["inverse_dynamics"]["sha256"] == measurement["artifacts"]["inverse_dynamics"]["sha256"]
    text = out.read_text()
    assert "## World-model variants" in text
    assert "eps (normalizer=zscore, clip_denoised=False, predict_epsilon=True)" in text
    assert text.count("## hopper-tiny") == 1  # the main sections show the default model only

    # a measurement of another data source is a look-alike: never in the local report
    other = measurements / "smoke" / "minari" / "hopper-tiny" / "seed0.json"
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({**measurement, "records": [{**r, "value": 999.0} for r in measurement["records"]]}))
    assert idm_accuracy([*common, "--report-only"]) == 0
    assert "999.0" not in out.read_text() and "source `local`" in out.read_text()


def test_idm_accuracy_rejects_an_unknown_task(tmp_path, capsys):
    out = tmp_path / "idm_accuracy.md"
    assert idm_accuracy(["--tasks", "hopper-nonsense", "--out", str(out),
                         "--measurements", str(tmp_path / "m")]) == 2
    assert "unknown task 'hopper-nonsense'" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "m").exists()


def test_idm_accuracy_dry_run_prices_the_models_each_measurement_trains(tmp_path, capsys):
    measurements, cache, out = tmp_path / "m", tmp_path / "cache", tmp_path / "idm_accuracy.md"
    for task, (world_model, idm, one_step) in (("hopper-medium-v2", (3600, 720, 360)),
                                               ("walker2d-medium-v2", (7200, 1440, 1080))):
        path = measurements / "quick" / "local" / task / "seed0.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({
            "artifacts": {"world_model": {"key": f"{task}-w", "train_time_s": world_model},
                          "inverse_dynamics": {"key": f"{task}-i", "train_time_s": idm},
                          "one_step_model": {"key": f"{task}-o", "train_time_s": one_step}},
            "wall_time_s": {"models": world_model + idm + one_step, "total": world_model + idm + one_step + 36}}))
    (cache / "inverse_dynamics" / "hopper-medium-v2-i").mkdir(parents=True)  # seed 0's IDM is still cached
    before = sorted(p for p in tmp_path.rglob("*"))
    assert idm_accuracy(["--dry-run", "--tasks", "hopper-medium-v2", "--seeds", "0", "1", "--world-model-variants",
                         "eps", "--measurements", str(measurements), "--cache", str(cache), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = {cells[0]: cells[1:] for cells in ([cell.strip() for cell in line.strip("|").split("|")]
                                              for line in printed.splitlines() if line.startswith("| hopper"))}
    # medians over the two files: world model 5400 s, IDM 1080 s, one-step model 720 s, measuring 36 s
    assert rows == {"hopper-medium-v2 seed 0": ["done", "", "0"],
                    "hopper-medium-v2 seed 1": ["to measure", "world model, IDM, one-step model", "2.01"],
                    "hopper-medium-v2 seed 0 (eps)": ["to measure", "world model, one-step model", "1.71"],
                    "hopper-medium-v2 seed 1 (eps)": ["to measure", "world model", "1.51"]}
    assert "4 measurements, 1 done, 3 to measure" in printed and "about 5.2 core-hours left" in printed
    assert "median of the 2 measurement files of profile quick" in printed
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing trained, measured or reported


def test_model_quality_report_before_and_after(tmp_path):
    import shutil

    from ablations.model_quality import ARCHIVE, report

    archive = tmp_path / "archive"
    shutil.copytree(ARCHIVE, archive)
    measurement = json.loads((archive / "measurements" / "idm_accuracy" / "quick" / "local" / "hopper-medium-v2" /
                              "seed0.json").read_text())
    for folder, variant, value in ((tmp_path / "old-datasets" / "measurements" / "idm_accuracy", "", 0.5),
                                   (tmp_path / "measurements", "cdf-eps", 0.25), (tmp_path / "measurements", "", 0.5)):
        path = folder / "quick" / "local" / "hopper-medium-v2" / f"seed0{'+' * bool(variant)}{variant}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**measurement, "run": {**measurement["run"], "world_model_variant": variant},
                                    "records": [{**r, "value": value if r["metric"] == "state_rmse" else r["value"]}
                                                for r in measurement["records"]]}))
    text = report(archive, tmp_path / "measurements", tmp_path / "runs", tmp_path / "model_quality.md",
                  tmp_path / "budgets", tmp_path / "old-datasets")
    fixes, variants = text.split("## World-model variants on today's datasets")

    def row(section: str, label: str) -> list[str]:
        line = next(line for line in section.splitlines() if line.startswith(f"| {label} "))
        return [cell.strip() for cell in line.strip("|").split("|")]

    # the fixes compare equal data: today's code on the archived build, never on today's datasets
    assert row(fixes, "world model state RMSE (std), k=1")[1:] == ["0.0988", "0.5", "–", "–", "–"]
    assert row(variants, "world model state RMSE (std), k=1")[1:] == ["0.5", "–", "–", "0.25"]  # two of four ran
    assert ("Lowest world-model state error among the 2 of 4 variants measured: k=1: CDF, clipped, epsilon; k=7: "
            "CDF, clipped, epsilon.") in variants
    assert variants.split("### walker2d-medium-v2")[1].count("No world-model variant measured yet.") == 1
    assert row(fixes, "5 -> 3 -> 2 (before)")[1:] == ["0.363", "0.363"]
    assert row(variants, "dwm-td3bc")[1:] == ["61.7 (best 62.7)", "–"]  # no quick run on today's code yet


def test_model_budget_measures_each_snapshot_once(tiny_hopper, tmp_path, monkeypatch):
    import dataclasses
    import json

    import ablations.model_budget as model_budget
    from benchmark.data import DataSpec
    from benchmark.grid.hyperparams import resolve

    def quick_validation(method, task):  # the one-step model validates every 10 steps here, not every 1000
        resolved = resolve(method, task)
        if method == model_budget.ONE_STEP_METHOD:
            resolved.configs["world_model"] = dataclasses.replace(resolved.configs["world_model"], validate_every=10)
        return resolved

    monkeypatch.setattr(model_budget, "resolve", quick_validation)
    # the world model samples with its EMA weights, updated every 10 steps
    spec = model_budget.BudgetSpec("hopper-tiny", 0, (10, 20), DataSpec(), starts=32, cache=str(tmp_path / "cache"))
    written = model_budget.measure_budgets(spec, tmp_path / "out")
    assert written == [spec.path(tmp_path / "out", 10), spec.path(tmp_path / "out", 20)]
    first, second = (json.loads(path.read_text()) for path in written)
    assert (first["run"]["budget"], second["run"]["budget"]) == (10, 20)
    assert first["artifacts"]["world_model"]["steps"] == 20 and first["artifacts"]["world_model"]["snapshot"] == 10

    def k1(content):
        return next(r["value"] for r in content["records"] if r["section"] == "k_step" and r["step"] == 1
                    and r["series"] == "diffusion world model" and r["metric"] == "state_rmse")
    assert k1(first) != k1(second)  # two different models measured
    assert model_budget.measure_budgets(spec, tmp_path / "out") == []  # done: nothing measured again
    # a budget measured on another build of the dataset is kept aside and measured again; the other is kept
    second["dataset"]["checksum"] = "another build"
    written[1].write_text(json.dumps(second))
    assert model_budget.measure_budgets(spec, tmp_path / "out") == [written[1]]
    assert json.loads(written[1].read_text())["dataset"]["checksum"] == first["dataset"]["checksum"]
    assert json.loads(written[0].read_text()) == first
    assert [path.name.split(".stale-")[0] for path in written[1].parent.glob("*.stale-*")] == [written[1].name]
    assert model_budget.main(["--profile", "quick"]) == 2


def test_model_quality_draws_the_budget_curves_from_the_measurement_files(tmp_path):
    import json
    import re

    from ablations.model_quality import budget_section

    for budget, error in ((15_000, 0.4), (50_000, 0.2)):
        path = tmp_path / "budgets" / "local" / "hopper-medium-v2" / f"seed0-{budget}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        records = [{"section": "k_step", "series": "diffusion world model", "step": 1, "metric": "state_rmse",
                    "value": error, "count": 10}]
        artifacts = {"world_model": {"steps": 50_000, "train_time_s": 3600.0},  # one training, resumed or not
                     "inverse_dynamics": {"steps": 50_000, "train_time_s": 720.0},
                     "one_step_model": {"steps": 6_000, "train_time_s": 36.0}}  # stopped early at 6k
        path.write_text(json.dumps({"run": {"budget": budget}, "records": records, "artifacts": artifacts}))
    lines = "\n".join(budget_section(tmp_path / "budgets", tmp_path / "figures" / "model_budget.png"))
    assert re.search(r"\| world model state RMSE \(std\), k=1 +\| 0\.4000 \| 0\.2000 \|", lines)
    assert re.search(r"\| training cost, core-hours \(world model\) +\| 0\.30 +\| 1\.00 +\|", lines)  # 15k/50k h
    assert re.search(r"\| training cost, core-hours \(IDM\) +\| 0\.06 +\| 0\.20 +\|", lines)
    assert re.search(r"\| training cost, core-hours \(one-step model\) +\| 0\.01 +\| 0\.01 +\|", lines)
    assert (tmp_path / "figures" / "model_budget.png").is_file()
    assert "not measured yet" in "\n".join(budget_section(tmp_path / "none", tmp_path / "x.png"))
