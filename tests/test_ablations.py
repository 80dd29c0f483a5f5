"""Ablation reports from hand-made result files: what they aggregate and how they name missing runs."""

import json

import pytest

from ablations.data_volume import main as data_volume
from tests.report_fixtures import write_look_alikes, write_result


def test_data_volume_report_and_missing_runs(tmp_path, capsys):
    for seed, score in ((0, 40.0), (1, 50.0)):
        write_result(tmp_path / "runs", "hopper-medium-v2", "dawm-td3bc", seed, score)
    write_result(tmp_path / "runs", "hopper-medium-v2", "dawm-t-td3bc", 0, 30.0, variant="real-only")
    write_result(tmp_path / "runs", "hopper-medium-v2", "td3bc", 0, 31.0)  # CORL's agent: not DAWM's real-only arm
    write_look_alikes(tmp_path / "runs", "hopper-medium-v2", "dawm-td3bc")  # e.g. the H=3 run: never averaged in
    out = tmp_path / "results" / "data_volume.md"
    assert data_volume(["--report-only", "--tasks", "hopper-medium-v2", "--results", str(tmp_path / "runs"),
                        "--out", str(out)]) == 0
    text = out.read_text()
    assert "| TD3+BC  | 8x                 | 45.0 ± 7.1 (2)     |" in text
    assert "| TD3+BC  | 0x (real only)     | 30.0 (1)           |" in text
    assert "999" not in text and "31.0" not in text
    assert "other ablation variant: 1 run" in text and "older dataset build: 1 run" in text
    assert ("Missing (4): dawm-t-td3bc on hopper-medium-v2, dawm-t-iql+real-only on hopper-medium-v2, dawm-t-iql on "
            "hopper-medium-v2, dawm-iql on hopper-medium-v2. Run them with `python -m ablations.data_volume --profile "
            "quick --tasks hopper-medium-v2 --seeds 0 1 2`") in text  # the default seeds: all the report looked for
    assert "seeds: 0, 1; agent steps: " in text  # the provenance of the runs behind the table
    assert (out.parent / "figures" / "data_volume.png").stat().st_size > 0


def test_horizon_variants_run_through_the_harness_and_report(tiny_hopper, tmp_path):
    from ablations.horizon import horizon_spec, main as horizon
    from benchmark.run.runner import train_run

    default = horizon_spec("hopper-tiny", "dwm-td3bc", 7, 0, "smoke")
    short = horizon_spec("hopper-tiny", "dwm-td3bc", 3, 0, "smoke")
    assert default.variant == "" and short.variant == "h3"  # H=7 is DWM's own: its main runs are reused
    assert short.result_path(tmp_path).parent.name == "dwm-td3bc+h3"
    result = train_run(short.__class__(**{**short.__dict__, "cache": str(tmp_path / "cache")}), tmp_path / "runs")
    assert result["config"]["agent"]["horizon"] == 3
    assert result["config_sources"]["agent"]["horizon"] == "ablation: h3"
    assert result["run"]["variant"] == "h3"
    out = tmp_path / "results" / "horizon.md"
    assert horizon(["--report-only", "--tasks", "hopper-tiny", "--profile", "smoke", "--results",
                    str(tmp_path / "runs"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| DWM-TD3BC     |   3 |" in text and "Missing (17)" in text


def test_horizon_rejects_an_unknown_task_before_running(tmp_path, capsys):
    from ablations.horizon import main as horizon

    out = tmp_path / "horizon.md"
    assert horizon(["--tasks", "hopper-nonsense", "--results", str(tmp_path / "runs"), "--out", str(out)]) == 2
    assert "unknown task 'hopper-nonsense'" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_ablation_dry_runs_price_their_variant_runs_and_write_nothing(tmp_path, capsys):
    from ablations.horizon import main as horizon

    runs, out = tmp_path / "runs", tmp_path / "horizon.md"
    write_result(runs, "hopper-medium-v2", "dwm-td3bc", 0, 50.0)  # H=7, DWM's own: the sweep reuses it
    assert horizon(["--tasks", "hopper-medium-v2", "--methods", "dwm-td3bc", "--seeds", "0", "--dry-run",
                    "--results", str(runs), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 runs, 1 done, 2 to run" in printed and "nothing was started" in printed
    (row,) = [line for line in printed.splitlines() if line.startswith("| dwm-td3bc")]
    assert [cell.strip() for cell in row.split("|")[2:5]] == ["3", "1", "2"]
    assert data_volume(["--tasks", "hopper-medium-v2", "--seeds", "0", "--dry-run", "--results", str(runs),
                        "--out", str(out)]) == 0
    assert "6 runs, 0 done, 6 to run" in capsys.readouterr().out  # 2 agents x (8x, 1x, real only)
    assert not out.exists() and sorted(p.name for p in runs.rglob("*") if p.is_file()) == ["seed0.json"]
    for ablation in (horizon, data_volume):
        with pytest.raises(SystemExit) as exited:
            ablation(["--dry-run", "--report-only", "--results", str(runs), "--out", str(out)])
        assert exited.value.code == 2 and "not allowed with argument --dry-run" in capsys.readouterr().err
    assert not out.exists()


def test_a_report_without_runs_removes_figures_of_earlier_runs(tmp_path):
    from ablations.reporting import finish_report

    stale = tmp_path / "figures" / "horizon.png"
    stale.parent.mkdir()
    stale.write_bytes(b"a figure of withdrawn runs")
    text = finish_report(["# Horizon\n"], [("hopper-medium-v2", "dwm-td3bc H=1 on hopper-medium-v2")],
                         lambda tasks: f"python -m ablations.horizon --tasks {' '.join(tasks)}",
                         tmp_path / "horizon.md", [stale], None)
    assert not stale.exists() and "Missing (1)" in text and "![" not in text


def test_horizon_report_leaves_out_look_alikes_and_horizons_outside_the_sweep(tmp_path):
    from ablations.horizon import report

    runs = tmp_path / "runs"
    write_result(runs, "hopper-medium-v2", "dwm-td3bc", 0, 60.0)  # H=7: DWM's default
    write_result(runs, "hopper-medium-v2", "dwm-td3bc", 0, 55.0, variant="h3")
    write_result(runs, "hopper-medium-v2", "onestep-td3bc", 0, 40.0)  # its default H=2 is not in {1, 3, 7}
    write_result(runs, "hopper-medium-v2", "dwm-td3bc", 0, 999.0, source="minari")
    write_result(runs, "hopper-medium-v2", "dwm-td3bc", 1, 999.0, variant="h3", version=0)
    out = tmp_path / "horizon.md"
    text = report(runs, ["hopper-medium-v2", "walker2d-medium-v2"], [0], "quick", out,
                  tmp_path / "figures" / "horizon.png")
    assert "| DWM-TD3BC     |   7 | 60.0 (1)" in text and "| DWM-TD3BC     |   3 | 55.0 (1)" in text
    assert "999" not in text and "40.0" not in text
    assert "other data source: 1 run" in text and "stale method version (rerun with today's code): 1 run" in text
    assert ("Run them with `python -m ablations.horizon --profile quick --tasks hopper-medium-v2 walker2d-medium-v2 "
            "--seeds 0`") in text


def test_ablation_reports_keep_every_task_measured_when_run_on_one(tmp_path):
    """Running an ablation with --tasks X rewrites its report: the tasks measured before stay in it."""
    from ablations.data_volume import report as volume_report
    from ablations.horizon import report as horizon_report

    runs = tmp_path / "runs"
    write_result(runs, "hopper-medium-v2", "dwm-td3bc", 0, 55.0, variant="h3")
    write_result(runs, "walker2d-medium-v2", "dawm-t-td3bc", 0, 30.0, variant="real-only")
    write_result(runs, "halfcheetah-medium-v2", "dwm-td3bc", 0, 44.0)  # a main run only: not swept there
    write_result(runs, "halfcheetah-medium-v2", "dawm-t-td3bc", 0, 41.0)
    horizon = horizon_report(runs, ["walker2d-medium-v2"], [0], "quick", tmp_path / "horizon.md",
                             tmp_path / "figures" / "horizon.png")
    header = next(line for line in horizon.splitlines() if line.startswith("| method"))
    columns = [cell.strip() for cell in header.split("|")[3:5]]
    assert columns == ["hopper-medium-v2", "walker2d-medium-v2"]  # in the suite's order
    assert "| DWM-TD3BC     |   3 | 55.0 (1)" in horizon and "halfcheetah" not in horizon
    volume = volume_report(runs, ["hopper-medium-v2"], [0], "quick", tmp_path / "data_volume.md",
                           tmp_path / "figures" / "data_volume.png")
    assert "walker2d-medium-v2" in volume and "30.0 (1)" in volume and "halfcheetah" not in volume
    assert "--tasks hopper-medium-v2 walker2d-medium-v2 --seeds 0`" in volume  # gaps on both tasks


@pytest.mark.slow
def test_horizon_ablation_launches_its_variant_runs_through_the_shared_executor(tiny_hopper, tmp_path):
    from ablations import horizon

    results = tmp_path / "results"
    argv = ["--tasks", "hopper-tiny", "--methods", "onestep-td3bc", "--horizons", "1", "--seeds", "0", "--profile",
            "smoke", "--results", str(results), "--cache", str(tmp_path / "cache"), "--workers", "1", "--quiet",
            "--out", str(tmp_path / "horizon.md")]
    assert horizon.main(argv) == 0
    result = json.loads((results / "smoke/local/hopper-tiny/onestep-td3bc+h1/seed0.json").read_text())
    assert result["config"]["agent"]["horizon"] == 1 and result["run"]["variant"] == "h1"
    assert f"| OneStep-TD3BC |   1 | {result['final_score']:.1f} (1)" in (tmp_path / "horizon.md").read_text()


def test_an_ablation_with_a_failed_run_exits_1_after_reporting_the_others(tiny_hopper, tmp_path, capsys):
    from ablations import horizon

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "one_step_models").write_text("a file where the one-step models' folder belongs")  # every run fails
    out = tmp_path / "horizon.md"
    argv = ["--tasks", "hopper-tiny", "--methods", "onestep-td3bc", "--horizons", "1", "--seeds", "0", "--profile",
            "smoke", "--results", str(tmp_path / "results"), "--cache", str(cache), "--workers", "1", "--quiet",
            "--out", str(out)]
    assert horizon.main(argv) == 1
    err = capsys.readouterr().err
    assert "FAILED hopper-tiny/onestep-td3bc+h1/seed0" in err and "1 run(s) failed" in err
    assert "Missing (18)" in out.read_text()  # the report is written all the same
