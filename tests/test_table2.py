"""Table 2 and claims.md from hand-made result files: cells, aggregates, comparisons, look-alikes left out."""

import numpy as np
import pytest

from benchmark.reports.claims import claims_table, render_claims
from benchmark.reports.paper_numbers import PAPER
from benchmark.reports.runs import load_failures, load_runs
from benchmark.reports.table2 import aggregate_table, average, comparison_table, main_table, render_table2
from benchmark.reports.tables import by_group
from benchmark.grid.suites import D4RL9
from tests.report_fixtures import write_failure_record, write_look_alikes, write_result


@pytest.fixture
def root(tmp_path):
    for i, task in enumerate(D4RL9):
        for seed, offset in enumerate((-1.0, 1.0)):
            write_result(tmp_path, task, "dwm-td3bc", seed, 10.0 * i + offset + 10)
            write_result(tmp_path, task, "dawm-td3bc", seed, 11.0 * i + offset + 11)
    write_result(tmp_path, "hopper-medium-v2", "td3bc", 0, 50.0)
    write_look_alikes(tmp_path, "hopper-medium-v2", "dwm-td3bc")
    return tmp_path


@pytest.fixture
def runs(root):
    return by_group(load_runs(root))[("quick", "local")].runs


def test_cells_say_local_and_show_the_published_value(runs):
    table = main_table(runs, "local")
    # hopper-medium-v2 is D4RL9[1]: seeds score 19 and 21 -> 20.0 ± 1.4 (sample std); DWM's published 0.65 -> 65.0
    assert table.loc["hopper-medium (local)", "DWM-TD3BC"] == "20.0 ± 1.4 (2) · 65.0"
    assert table.loc["hopper-medium (local)", "TD3+BC"] == "50.0 (1) · 60.4"  # one run: no ±
    assert table.loc["hopper-medium (local)", "IQL"] == "– · 67.5"  # missing is shown as missing, never as zero
    assert table.loc["average", "DWM-TD3BC"] == f"{np.mean([10.0 * i + 10 for i in range(9)]):.1f} · 67.9"
    assert table.loc["average", "TD3+BC"] == "– · 76.5"  # 1 of 9 tasks: no average
    assert table.loc["average", "DAWM-TD3BC"] == f"{np.mean([11.0 * i + 11 for i in range(9)]):.1f}"  # no claim
    assert "hopper-medium-v2" in main_table(runs, "d4rl-hdf5").index  # D4RL's own data keeps D4RL's id


def test_paper_columns_come_from_the_reference_tables():
    assert PAPER["dwm-iql"].scores["walker2d-medium-expert-v2"] == 104.0
    assert PAPER["dd"].scores["hopper-medium-expert-v2"] == 106.0
    assert PAPER["iql"].scores["hopper-medium-replay-v2"] == 97.43
    assert all(set(column.scores) == set(D4RL9) for column in PAPER.values())
    assert "dawm-td3bc" not in PAPER  # DAWM's per-task values are unknown


def test_aggregates_only_over_complete_matrices(runs):
    table = aggregate_table(runs).set_index("method")
    scores = np.array([10.0 * i + o + 10 for i in range(9) for o in (-1.0, 1.0)])
    iqm_text = table.loc["DWM-TD3BC", "IQM [95% CI]"]
    assert iqm_text.startswith(f"{np.mean(np.sort(scores)[4:14]):.1f} [")  # the middle 50% of 18 scores
    assert table.loc["TD3+BC", "IQM [95% CI]"] == "–"  # one task of nine: not ranked
    assert table.loc["TD3+BC", "not aggregated: missing"].startswith("halfcheetah-medium-v2 seed 0")
    assert average(runs, "dawm-td3bc") == pytest.approx(np.mean([11.0 * i + 11 for i in range(9)]))


def test_comparisons_on_our_runs(runs):
    rows = comparison_table(runs).set_index("comparison")
    # task i: DAWM scores 11 i + 10 and 11 i + 12, DWM 10 i + 9 and 10 i + 11. P(DAWM > DWM) over the 4 pairs:
    # i = 0: 10 > 9, 10 < 11, 12 > both -> 3/4; i = 1: 21 > 19, 21 = 21 (half), 23 > both -> 3.5/4; i >= 2: 1
    assert rows.loc["DAWM-TD3BC vs DWM-TD3BC", "9-task average, relative"] == "+10.0%"
    expected = (0.75 + 0.875 + 7) / 9
    assert rows.loc["DAWM-TD3BC vs DWM-TD3BC", "P(improvement) [95% CI]"].startswith(f"{expected:.2f} [")
    assert rows.loc["DAWM-IQL vs DWM-IQL", "tasks"] == 0


def test_table2_text_protocols_and_left_out_runs(root):
    text = render_table2(by_group(load_runs(root)))
    footnotes = text[text.index("Published columns"):]
    assert "DWM-TD3BC: DWM thesis Table 6.2 (arXiv v4 Table 5.1): best over a sweep of H in {1, 3, 5, 7}" in footnotes
    assert "TD3+BC: CORL README, last score over 4 seeds: last evaluation after 1M steps" in footnotes
    assert "DAWM-TD3BC: DAWM publishes no per-task values" in footnotes and "never a best-of-sweep" in footnotes
    local = text.split("data source `minari`")[0] if "data source `minari`" in text else text
    assert "999" not in local and "missing: 62 of 81 cells" in local
    assert "older dataset build: 1 run" in text and "other ablation variant: 1 run" in text


def test_claims_with_verdicts(runs, root):
    table = claims_table(runs).set_index("claim")
    dawm = table.loc["DAWM-TD3BC beats DWM-TD3BC"]
    assert dawm["verdict"] == "supported" and dawm["ours [95% CI]"].startswith("+10.0% [")
    assert dawm["tasks x seeds"] == "9 x 2"
    assert table.loc["DWM beats one-step MVE", "verdict"] == "not yet run"
    assert table.loc["DAWM is stable over H in {1, 3, 7}", "verdict"] == "not yet run"
    assert "not yet run" in table.loc["DD is 4.6x slower than DWM at inference", "verdict"]
    text = render_claims(load_runs(root))  # from all the files: the look-alikes (999s) must not move the effect
    assert "## profile `quick`, data source `local`" in text and "| +10.0% [" in text
    assert "older dataset build: 1 run" in text


def test_horizon_stability_claim(tmp_path):
    for task in D4RL9[:2]:
        for seed in (0, 1):
            for variant, score in (("", 50.0), ("h1", 52.0 + seed), ("h3", 49.0)):
                for method in ("dawm-td3bc", "dawm-iql"):
                    write_result(tmp_path, task, method, seed, score, variant=variant)
    runs = load_runs(tmp_path)
    from benchmark.reports.claims import _named

    row = claims_table(_named(runs)).set_index("claim").loc["DAWM is stable over H in {1, 3, 7}"]
    assert row["verdict"] == "supported" and row["tasks x seeds"] == "2 x 2 (of 9 tasks)"
    assert row["ours [95% CI]"].startswith("+5.0% [")  # H=1: 53 vs 50 on average


def test_a_failed_run_is_a_marked_cell_with_its_error(root, capsys):
    write_failure_record(root, "hopper-medium-v2", "iql", 0, "RuntimeError: the critic diverged")
    write_failure_record(root, "hopper-medium-v2", "dwm-iql", 0, "ValueError: zq-stale", version=0)  # stale code
    write_failure_record(root, "hopper-medium-v2", "td3bc", 0, "ValueError: zq-superseded")  # its result exists
    write_failure_record(root, "hopper-medium-v2", "iql", 1, "ValueError: zq-ablation", variant="h3")
    (root / "quick" / "local" / "walker2d-medium-v2" / "iql").mkdir(parents=True)
    (root / "quick" / "local" / "walker2d-medium-v2" / "iql" / "seed0.failed").write_text("ValueError: plain\n")
    selections = by_group(load_runs(root), load_failures(root))
    assert "seed0.failed names no run" in capsys.readouterr().err  # a plain traceback is named, never placed
    failures = selections[("quick", "local")].failures
    assert list(zip(failures["method"], failures["seed"])) == [("iql", 0)]
    table = main_table(selections[("quick", "local")].runs, "local", failures)
    assert table.loc["hopper-medium (local)", "IQL"] == "✗ · 67.5"
    assert table.loc["hopper-medium (local)", "TD3+BC"] == "50.0 (1) · 60.4"
    assert table.loc["hopper-medium (local)", "DWM-IQL"] == "– · 54.0"
    text = render_table2(selections)
    assert "missing: 62 of 81 cells (1 of them failed: ✗)" in text
    assert "- IQL on hopper-medium-v2 seed 0: RuntimeError: the critic diverged (" in text
    assert "zq-" not in text  # the stale, superseded and ablation records are not the table's


def test_failures_alone_still_make_a_table(tmp_path):
    write_failure_record(tmp_path, "hopper-medium-v2", "iql", 0, "RuntimeError: out of memory")
    selections = by_group(load_runs(tmp_path), load_failures(tmp_path))
    text = render_table2(selections)
    assert "| hopper-medium (local) " in text and "✗ · 67.5" in text and "RuntimeError: out of memory" in text


def test_no_runs_names_what_to_run(tmp_path):
    assert "No result files" in render_table2(by_group(load_runs(tmp_path)))


def test_performance_profiles_only_for_complete_methods(root, tmp_path):
    from benchmark.reports.performance_profiles import draw_performance_profiles

    written = draw_performance_profiles(by_group(load_runs(root)), tmp_path / "figures")
    assert [p.name for p in written] == ["performance_profiles_quick_local.png"]  # DWM and DAWM: 9 x 2 each
    assert draw_performance_profiles(by_group(load_runs(root)), tmp_path / "figures", tasks=("no-such-task",)) == []
    assert not written[0].exists()  # no complete method any more: the stale figure is removed


def test_tasks_whose_dataset_misses_the_recipe_targets_are_marked_and_explained(tmp_path):
    from benchmark.reports.tables import render

    caveat = "expert policy below the target 85: deterministic 76.1, stochastic 72.0 at step 995000"
    for task, caveats in (("halfcheetah-medium-expert-v2", (caveat,)), ("hopper-medium-v2", ())):
        write_result(tmp_path, task, "td3bc", 0, 50.0, caveats=caveats)
    old_wording = "expert policy below the target 85 at step 995000"  # an older run of the same dataset
    write_result(tmp_path, "halfcheetah-medium-expert-v2", "iql", 0, 40.0, caveats=(old_wording,),
                 finished="2026-11-01T00:00:00+00:00")
    runs = by_group(load_runs(tmp_path))[("quick", "local")].runs
    table = main_table(runs, "local")
    assert "halfcheetah-medium-expert (local) †" in table.index and "hopper-medium (local)" in table.index
    assert table.loc["halfcheetah-medium-expert (local) †", "TD3+BC"].startswith("50.0 (1)")
    text = render_table2({("quick", "local"): by_group(load_runs(tmp_path))[("quick", "local")]})
    assert f"- halfcheetah-medium-expert-v2: {caveat}\n\n" in text and "- hopper-medium-v2" not in text
    assert old_wording not in text  # the newest run's wording only, and a blank line before the next paragraph
    plain = render(by_group(load_runs(tmp_path)))
    assert "| halfcheetah-medium-expert-v2 † |" in plain and f"- halfcheetah-medium-expert-v2: {caveat}" in plain


def test_a_run_ending_below_half_its_best_marks_its_cell_and_is_named(tmp_path):
    write_result(tmp_path, "walker2d-medium-v2", "td3bc", 0, 14.2, best=63.4)  # 14.2 < 31.7: fell
    write_result(tmp_path, "walker2d-medium-v2", "td3bc", 1, 60.0, best=61.0)
    write_result(tmp_path, "hopper-medium-v2", "td3bc", 0, 32.0, best=63.0)  # 32.0 >= 31.5: a dip, not a fall
    selection = by_group(load_runs(tmp_path))[("quick", "local")]
    table = main_table(selection.runs, "local")
    assert table.loc["walker2d-medium (local)", "TD3+BC"] == "37.1 ± 32.4 (2) ↘ · 82.7"
    assert table.loc["hopper-medium (local)", "TD3+BC"] == "32.0 (1) · 60.4"
    text = render_table2({("quick", "local"): selection})
    assert ("TD3+BC on walker2d-medium-v2 seed 0 (final 14.2, best 63.4)" in text
            and "[figures/curves_quick_local.png]" in text and "hopper-medium-v2 seed 0 (final" not in text)


def test_the_noise_of_a_single_seed_cell_is_measured_per_environment_from_the_last_evaluations(tmp_path):
    def curve(*scores):
        return [{"step": 10 * i, "score": s} for i, s in enumerate(scores)]

    write_result(tmp_path, "hopper-medium-v2", "td3bc", 0, 50.0, evaluations=curve(99, 10, 20, 30, 40, 50))  # 15.81
    write_result(tmp_path, "hopper-medium-replay-v2", "iql", 0, 4.0, evaluations=curve(0, 0, 0, 2, 4))  # 1.789
    write_result(tmp_path, "walker2d-medium-v2", "dd", 0, 70.0, evaluations=curve(70))  # one evaluation: no spread
    text = render_table2({("quick", "local"): by_group(load_runs(tmp_path))[("quick", "local")]})
    assert ("the last 5 evaluations have a standard deviation (median over the table's runs) of 8.8 on hopper "
            "(2 runs).") in text  # the median of 15.81 and 1.79; walker2d's DD run has too few evaluations
    assert "walker2d (" not in text
    write_result(tmp_path, "hopper-medium-v2", "td3bc", 0, 50.0, evaluations=curve(50))
    write_result(tmp_path, "hopper-medium-replay-v2", "iql", 0, 4.0, evaluations=curve(4))
    text = render_table2({("quick", "local"): by_group(load_runs(tmp_path))[("quick", "local")]})
    assert "Within one run" not in text  # nothing to measure it on: no line


def test_a_run_whose_critic_left_every_achievable_return_is_marked_and_named(tmp_path):
    # hopper's expert reference: 3234.3 over 1000 steps, so 3.2343 per step / (1 - 0.99) = 323.43 per unit reward
    write_result(tmp_path, "hopper-medium-v2", "onestep-td3bc", 0, 33.4, q1=1.48e6)
    write_result(tmp_path, "hopper-medium-v2", "td3bc", 0, 42.3, q1=3000.0)  # below 10 x 323.43: sound
    write_result(tmp_path, "hopper-medium-v2", "iql", 0, 39.2, q1=900.0, reward_scale=0.25)  # bound 808.6: broken
    write_result(tmp_path, "walker2d-medium-v2", "td3bc", 0, 60.0)  # nothing logged: never marked
    # no Q logged, but a TD error of sqrt(6.2e8) = 24900 against walker2d's bound 10 x 0.25 x 459.2 = 1148
    write_result(tmp_path, "walker2d-medium-v2", "onestep-iql", 0, 43.7, critic_loss=6.2e8, reward_scale=0.25)
    write_result(tmp_path, "walker2d-medium-v2", "iql", 0, 80.0, critic_loss=1e6, reward_scale=0.25)  # 1000: sound
    selection = by_group(load_runs(tmp_path))[("quick", "local")]
    table = main_table(selection.runs, "local")
    assert table.loc["hopper-medium (local)", "OneStep-TD3BC"] == "33.4 (1) ⚠ · 39.0"
    assert table.loc["hopper-medium (local)", "TD3+BC"] == "42.3 (1) · 60.4"
    assert table.loc["hopper-medium (local)", "IQL"] == "39.2 (1) ⚠ · 67.5"
    assert table.loc["walker2d-medium (local)", "TD3+BC"] == "60.0 (1) · 82.7"
    assert table.loc["walker2d-medium (local)", "OneStep-IQL"] == "43.7 (1) ⚠ · 52.0"
    assert table.loc["walker2d-medium (local)", "IQL"] == "80.0 (1) · 80.9"
    text = render_table2({("quick", "local"): selection})
    assert ("IQL on hopper-medium-v2 seed 0 (Q 900, bound 809), OneStep-TD3BC on hopper-medium-v2 seed 0 "
            "(Q 1.48e+06, bound 3.23e+03), OneStep-IQL on walker2d-medium-v2 seed 0 (critic loss 6.2e+08, bound "
            "1.15e+03)") in text and "TD3+BC on hopper" not in text


def test_one_seed_per_task_gives_an_effect_but_no_interval_and_no_verdict(tmp_path):
    for task, (dawm, dwm) in (("hopper-medium-v2", (40.5, 61.2)), ("walker2d-medium-v2", (60.0, 75.0))):
        write_result(tmp_path, task, "dawm-td3bc", 0, dawm)
        write_result(tmp_path, task, "dwm-td3bc", 0, dwm)
    runs = by_group(load_runs(tmp_path))[("quick", "local")].runs
    row = claims_table(runs).set_index("claim").loc["DAWM-TD3BC beats DWM-TD3BC"]
    # (40.5 + 60) / 2 / ((61.2 + 75) / 2) - 1 = -26.2%: an effect, but two single runs cannot say how sure it is
    assert row["ours [95% CI]"] == "-26.2% (one seed: no interval)" and row["tasks x seeds"] == "2 x 1 (of 9 tasks)"
    assert row["verdict"] == "no verdict (needs 2+ seeds per task)"
    assert comparison_table(runs).set_index("comparison").loc[
        "DAWM-TD3BC vs DWM-TD3BC", "P(improvement) [95% CI]"] == "0.00 (one seed: no interval)"
    # aggregated over these two tasks: the IQM of two scores is their mean, 50.25
    aggregate = aggregate_table(runs, tasks=("hopper-medium-v2", "walker2d-medium-v2")).set_index("method")
    assert aggregate.loc["DAWM-TD3BC", "IQM [95% CI]"] == "50.2 (one seed: no interval)"
