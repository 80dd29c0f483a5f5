"""table.md and the statistics behind every report: hand-computed values, look-alikes left out."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmark.errors import UsageError
from benchmark.grid.methods import METHODS
from benchmark.reports.runs import load_runs, select_runs
from benchmark.reports.stats import (complete_matrix, iqm, optimality_gap, performance_profile,
                                     probability_of_improvement, seed_cell)
from benchmark.reports.tables import by_group, render, score_table, write_report
from benchmark.results import write_json_atomic
from tests.report_fixtures import write_look_alikes, write_result


def test_cells_use_the_sample_std_and_no_plus_minus_for_one_run():
    assert seed_cell(pd.Series([10.0, 20.0])) == "15.0 ± 7.1 (2)"  # sample std of 10 and 20: sqrt(50)
    assert seed_cell(pd.Series([40.0])) == "40.0 (1)"
    assert seed_cell(pd.Series([], dtype=float)) == "–"


def test_aggregate_estimators_by_hand():
    scores = np.array([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    assert iqm(scores) == pytest.approx(35.0)  # the middle four: 20, 30, 40, 50
    assert optimality_gap(np.array([90.0, 110.0, 50.0])) == pytest.approx((10 + 0 + 50) / 3)
    # task 1: X = [3, 1] vs Y = [2]: P = (1 + 0) / 2; task 2: X = [5] vs Y = [5, 4]: P = (0.5 + 1) / 2
    assert probability_of_improvement([np.array([3.0, 1.0]), np.array([5.0])],
                                      [np.array([2.0]), np.array([5.0, 4.0])]) == pytest.approx((0.5 + 0.75) / 2)
    assert performance_profile(scores, np.array([-1.0, 35.0, 70.0])).tolist() == [1.0, 0.5, 0.0]


def test_selection_leaves_out_every_look_alike(tmp_path):
    write_result(tmp_path, "hopper-medium-v2", "td3bc", 0, 50.0)
    write_look_alikes(tmp_path, "hopper-medium-v2", "td3bc")
    selection = select_runs(load_runs(tmp_path), profile="quick", source="local")
    assert selection.runs["final_score"].tolist() == [50.0]
    assert sorted(selection.left_out["reason"]) == [
        "made with the profile's earlier budgets (rerun)", "older dataset build", "other ablation variant",
        "other data source", "stale method version (rerun with today's code)"]
    assert "other ablation variant: 1 run" in selection.note()


def test_complete_matrix_needs_every_seed_on_every_task(tmp_path):
    for seed in (0, 1):
        write_result(tmp_path, "a-task", "td3bc", seed, 10.0 + seed)
    write_result(tmp_path, "b-task", "td3bc", 0, 30.0)
    runs = load_runs(tmp_path)
    matrix, missing = complete_matrix(runs, "td3bc", ["a-task", "b-task"])
    assert matrix is None and missing == ["b-task seed 1"]
    matrix, _ = complete_matrix(runs, "td3bc", ["a-task"])
    assert [m.tolist() for m in matrix] == [[10.0, 11.0]]


def test_table_md_from_result_files(tmp_path):
    for task, method, seed, score in [("hopper-medium-v2", "td3bc", 0, 10.0), ("hopper-medium-v2", "td3bc", 1, 20.0),
                                      ("walker2d-medium-v2", "td3bc", 0, 40.0), ("hopper-medium-v2", "iql", 0, 50.0)]:
        write_result(tmp_path, task, method, seed, score)
    write_look_alikes(tmp_path, "hopper-medium-v2", "td3bc")
    selections = by_group(load_runs(tmp_path))
    table = score_table(selections[("quick", "local")].runs)
    assert table.loc["hopper-medium-v2", "TD3+BC"] == "15.0 ± 7.1 (2)"
    assert table.loc["walker2d-medium-v2", "TD3+BC"] == "40.0 (1)"
    assert table.loc["average", "TD3+BC"] == "27.5"  # (15 + 40) / 2: mean of task means
    assert table.loc["walker2d-medium-v2", "IQL"] == "–" and table.loc["average", "IQL"] == "–"  # never zero
    text = render(selections)
    assert "profile `quick`, data source `local`" in text and "999" not in text.split("minari")[0]
    assert "left out: " in text


def test_report_refuses_a_missing_or_empty_results_folder(tmp_path):
    out = tmp_path / "table.md"
    out.write_text("a committed table")
    with pytest.raises(UsageError, match="no such folder"):
        write_report(tmp_path / "typo", out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no result files"):
        write_report(tmp_path / "empty", out)
    assert out.read_text() == "a committed table"
    (tmp_path / "perf").mkdir()
    (tmp_path / "perf" / "cpu.json").write_text("{}")  # not a speed-suite file: named, and nothing written
    with pytest.raises(UsageError, match="not a pytest-benchmark JSON"):
        write_report(tmp_path / "empty", out, allow_empty=True)
    assert out.read_text() == "a committed table"
    (tmp_path / "perf" / "cpu.json").unlink()
    write_report(tmp_path / "empty", out, allow_empty=True)
    assert "No result files found" in out.read_text()


def test_a_corrupt_result_file_is_named_and_left_out(tmp_path, capsys):
    write_result(tmp_path, "hopper-medium-v2", "td3bc", 0, 50.0)
    broken = tmp_path / "quick" / "local" / "hopper-medium-v2" / "iql" / "seed0.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"run": {"task"')
    runs = load_runs(tmp_path)
    assert runs["method"].tolist() == ["td3bc"] and str(broken) in capsys.readouterr().err


def test_learning_curves_are_drawn_per_group(tmp_path):
    from benchmark.reports.curves import curve_frame, draw_curves

    for seed in (0, 1):
        write_result(tmp_path, "hopper-medium-v2", "td3bc", seed, 40.0 + seed)
    write_result(tmp_path, "hopper-medium-v2", "dd", 0, 30.0, evaluations=[{"step": 0, "score": 30.0}])
    selections = by_group(load_runs(tmp_path))
    frame = curve_frame(selections[("quick", "local")].runs)
    assert set(frame["method"]) == {"TD3+BC"} and frame["step"].tolist() == [50, 100, 50, 100]  # DD has no curve
    assert set(frame["data"]) == {"model-free"} and set(frame["agent"]) == {"TD3+BC"}
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "curves_paper_minari.png").write_bytes(b"stale")
    written = draw_curves(selections, tmp_path / "figures")
    assert [p.name for p in written] == ["curves_quick_local.png"] and written[0].stat().st_size > 10_000
    assert not (tmp_path / "figures" / "curves_paper_minari.png").exists()


def test_a_method_evaluated_once_is_a_dotted_level_in_its_task_panel(tmp_path):
    from benchmark.reports.curves import ONCE_STYLE, curves_figure

    for task in ("hopper-medium-v2", "walker2d-medium-v2"):
        write_result(tmp_path, task, "td3bc", 0, 40.0)
    for seed, score in ((0, 30.0), (1, 36.0)):
        write_result(tmp_path, "hopper-medium-v2", "dd", seed, score, evaluations=[{"step": 0, "score": score}])
    figure = curves_figure(load_runs(tmp_path), "title")
    levels = {axis.get_title(): [(line.get_label(), *line.get_ydata()) for line in axis.get_lines()
                                 if line.get_linestyle() == ONCE_STYLE["linestyle"]] for axis in figure.axes}
    assert levels == {"hopper-medium-v2": [("DD (evaluated once)", 33.0, 33.0)], "walker2d-medium-v2": []}
    assert "DD (evaluated once)" in [text.get_text() for text in figure.legends[0].texts]


def test_a_curve_is_coloured_by_the_data_its_agent_learns_from_and_styled_by_the_agent():
    from benchmark.reports.curves import agent_of, data_source_of

    labels = {name: (data_source_of(METHODS[name]), agent_of(METHODS[name]))
              for name in ("td3bc", "iql", "onestep-iql", "dwm-td3bc", "dawm-iql", "dawm-t-td3bc")}
    assert labels == {"td3bc": ("model-free", "TD3+BC"), "iql": ("model-free", "IQL"),
                      "onestep-iql": ("OneStep", "IQL"), "dwm-td3bc": ("DWM", "TD3+BC"), "dawm-iql": ("DAWM", "IQL"),
                      "dawm-t-td3bc": ("DAWM-T", "TD3+BC")}


def test_atomic_write_leaves_no_partial_file(tmp_path):
    class Unserialisable:
        pass

    target = tmp_path / "x" / "seed0.json"
    try:
        write_json_atomic(target, {"bad": Unserialisable()})
    except TypeError:
        pass
    assert not target.exists() and list(target.parent.iterdir()) == []
    write_json_atomic(target, {"ok": 1})
    assert json.loads(target.read_text()) == {"ok": 1}


def _speed_file(path, rates: dict[str, float], device="cpu", date="2026-11-30"):
    """A pytest-benchmark JSON as the speed suite writes it: mean seconds per call and what a call does."""
    import json

    benchmarks = [{"group": "g", "name": f"test_{name}", "stats": {"mean": 1 / rate, "rounds": 5},
                   "extra_info": {"unit": "actions", "per_call": 1, "flops_per_call": 2e9 / rate * 10,
                                  "device": device, "threads": 1, "torch": "2.13.0"}}
                  for name, rate in rates.items()]
    path.write_text(json.dumps({"machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 2},
                                                 "python_version": "3.11"},
                                "commit_info": {"id": "abc1234def"}, "datetime": date,
                                "benchmarks": benchmarks}))
    return path


def test_performance_report_reproduces_the_inference_ratio_and_compares_files(tmp_path):
    import re

    from benchmark.reports.performance import main

    rates = {"action_latency[dwm-td3bc]": 1000.0, "action_latency[dd]": 10.0, "evaluation": 1000.0,
             "agent_update[td3bc]": 100.0}
    before = _speed_file(tmp_path / "cpu-before.json", rates)
    after = _speed_file(tmp_path / "cpu.json", rates | {"agent_update[td3bc]": 150.0})
    out = tmp_path / "performance.md"
    assert main([str(before), str(after), "--out", str(out)]) == 0
    text = out.read_text()
    # DWM: 1 ms per action + 1 ms per environment step = 2 s per 1000-step episode; DD: 100 + 1 ms -> 101 s
    assert "| DD, DWM's re-run preset | 100.000 | 101.0 | 50.5x |" in text
    assert re.search(r"\| agent_update\[td3bc\] +\| +100 \| +150 \| +1\.5 \|", text)  # before, after, ratio
    assert "GPU figures: not yet measured" in text
    assert (tmp_path / "figures" / "performance.png").is_file()
    assert main([str(tmp_path / "missing.json"), "--out", str(out)]) == 2


def test_claims_read_the_inference_ratio_from_the_newest_speed_file_per_device(tmp_path):
    from benchmark.reports.claims import speed_ratios, speed_row

    # 1 ms per environment step; DWM 1 ms per action -> 2 s per 1000-step episode
    base = {"action_latency[dwm-td3bc]": 1000.0, "evaluation": 1000.0}
    _speed_file(tmp_path / "old.json", base | {"action_latency[dd]": 10.0}, date="2026-11-29")  # (100 + 1) / 2
    _speed_file(tmp_path / "cpu.json", base | {"action_latency[dd]": 20.0})  # newer, sorts first: (50 + 1) / 2
    _speed_file(tmp_path / "no-dd.json", base, device="cuda", date="2026-12-02")  # DD not timed: no ratio
    assert speed_ratios(tmp_path) == [("cpu, 1 thread(s)", 25.5)]
    row = speed_row(speed_ratios(tmp_path))
    assert row["ours [95% CI]"] == "25.5x (cpu, 1 thread(s))"
    assert row["verdict"] == "DD slower on the CPU; not yet measured on a GPU, where the paper timed it"
    # older than no-dd.json, which does not hide it: (0.5 + 1) / 2
    _speed_file(tmp_path / "gpu.json", base | {"action_latency[dd]": 2000.0}, device="cuda", date="2026-12-01")
    row = speed_row(speed_ratios(tmp_path))
    assert row["ours [95% CI]"] == "25.5x (cpu, 1 thread(s)); 0.8x (cuda, 1 thread(s))"
    assert row["verdict"] == "not supported (DD not slower on the GPU)"
    assert speed_row([])["verdict"] == "not yet run (needs the speed suite)"
