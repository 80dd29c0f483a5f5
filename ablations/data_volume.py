"""`python -m ablations.data_volume`: DAWM (8x synthetic data) vs DAWM-T (1/8 of it) vs the real data alone.

The real-data arm is DAWM-T with `real_ratio` 1 (the run's variant `real-only`): the same agent, settings and
budgets as DAWM's, only its batches hold no synthetic transition (so it trains no world model, bank or IDM). The
model-free TD3+BC and IQL runs would differ in more than the data (CORL's settings, and at `paper` twice DAWM's agent
steps).

Runs the grid through the benchmark harness (any executor; done runs are skipped, interrupted ones resume),
then writes results/data_volume.md and results/figures/data_volume.png from the result files alone.
`--report-only` skips the runs; missing runs are listed, never filled in.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import matplotlib
import pandas as pd
import seaborn as sns

from benchmark import options
from benchmark.errors import exit_2_on_usage_error
from benchmark.grid.profiles import get_profile
from benchmark.grid.runspec import RunSpec
from ablations.reporting import finish_report, rerun_command, score_report_head, select_ablation_runs
from ablations.variant_runs import run_and_report
from benchmark.reports.stats import MISSING, seed_cell

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REAL_ONLY = "real-only"  # DAWM-T whose batches take no synthetic transition: DAWM's agent on the real data alone
ARMS = {  # (method, variant) -> (agent, synthetic transitions per real one)
    ("dawm-t-td3bc", REAL_ONLY): ("TD3+BC", 0.0), ("dawm-t-td3bc", ""): ("TD3+BC", 1.0),
    ("dawm-td3bc", ""): ("TD3+BC", 8.0),
    ("dawm-t-iql", REAL_ONLY): ("IQL", 0.0), ("dawm-t-iql", ""): ("IQL", 1.0), ("dawm-iql", ""): ("IQL", 8.0),
}
DEFAULT_TASKS = ("halfcheetah-medium-v2", "hopper-medium-v2", "walker2d-medium-v2")


def arm_spec(task: str, method: str, variant: str, seed: int, profile: str) -> RunSpec:
    overrides = (("augmentation", "real_ratio", 1.0),) if variant == REAL_ONLY else ()
    return RunSpec(task, method, seed, profile, variant=variant, overrides=overrides,
                   override_source="ablation: real-only, DAWM-T's batches without synthetic transitions"
                   if overrides else "")


def _arm_runs(runs: pd.DataFrame, method: str, variant: str) -> pd.DataFrame:
    return runs[(runs["method"] == method) & (runs["variant"] == variant)]


def volume_table(runs: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """Rows: (agent, synthetic volume); columns: tasks; cells as stats.seed_cell, or missing."""
    rows = []
    for (method, variant), (agent, volume) in ARMS.items():
        arm = _arm_runs(runs, method, variant)
        row = {"agent": agent, "synthetic / real": f"{volume:g}x" + (" (real only)" if volume == 0 else ""),
               "arm": f"{method}+{variant}" if variant else method}
        for task in tasks:
            row[task] = seed_cell(arm.loc[arm["task"] == task, "final_score"])
        rows.append(row)
    return pd.DataFrame(rows)


def figure(runs: pd.DataFrame, out: Path) -> None:
    data = pd.concat([_arm_runs(runs, method, variant).assign(agent=agent, volume=f"{volume:g}x")
                      for (method, variant), (agent, volume) in ARMS.items()])
    data = data.rename(columns={"volume": "synthetic transitions per real transition"})
    grid = sns.catplot(data=data, x="synthetic transitions per real transition", y="final_score", hue="agent",
                       col="task", kind="point", order=["0x", "1x", "8x"], errorbar=("sd", 1),
                       dodge=0.2 if data["agent"].nunique() > 1 else False,
                       height=3.2, aspect=1.0, sharey=False)
    grid.set_axis_labels("synthetic transitions per real one", "normalised score (final, x100)")
    grid.figure.suptitle("DAWM data volume: real only (0x), DAWM-T (1x), DAWM (8x); mean ± sample std over seeds",
                         y=1.03)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(grid.figure)


def report(results: Path, tasks: list[str], seeds: list[int], profile: str, out: Path, figure_out: Path,
           source: str = "local") -> str:
    tasks, selection = select_ablation_runs(results, profile=profile, source=source, tasks=tasks,
                                            methods=sorted({method for method, _ in ARMS}), variants=(REAL_ONLY,))
    runs = selection.runs
    table = volume_table(runs, tasks)
    missing = [(task, f"{row['arm']} on {task}") for _, row in table.iterrows() for task in tasks
               if row[task] == MISSING]
    lines = score_report_head(
        "Data volume: DAWM vs DAWM-T vs real data only", "data_volume", profile, results, runs, selection,
        "DAWM keeps 8 synthetic transitions per real one, DAWM-T 1; every batch is half real, half synthetic "
        "(`real_ratio`). Real only: DAWM-T with `real_ratio` 1, DAWM's agent and budgets on the real data alone.",
        table.drop(columns="arm"))
    return finish_report(lines, missing, partial(rerun_command, "data_volume", profile, source, seeds), out,
                         [figure_out], None if runs.empty else lambda: figure(runs, figure_out))


@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ablations.data_volume", description=__doc__, allow_abbrev=False,
                                     parents=[options.selection(), options.storage(),
                                              options.execution(with_report_only=True)])
    parser.add_argument("--out", type=Path, default=Path("results") / "data_volume.md")
    parser.set_defaults(tasks=list(DEFAULT_TASKS), seeds=[0, 1, 2], profile="quick")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile).name
    specs = list(dict.fromkeys(arm_spec(task, method, variant, seed, profile)
                               for task in args.tasks for method, variant in ARMS for seed in args.seeds))
    return run_and_report(args, specs, "data-volume", lambda: report(
        args.results, args.tasks, args.seeds, args.profile, args.out, args.out.parent / "figures" / "data_volume.png",
        args.source))


if __name__ == "__main__":
    sys.exit(main())
