"""`python -m ablations.data_volume`: DAWM (8x synthetic data) vs DAWM-T (1/8 of it) vs the real data alone.

Runs the grid through the benchmark harness (any executor; done runs are skipped, interrupted ones resume),
then writes results/data_volume.md and results/figures/data_volume.png from the result files alone.
`--report-only` skips the runs; missing runs are listed, never filled in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib
import pandas as pd
import seaborn as sns

from benchmark import options
from benchmark.cli import execute
from benchmark.errors import UsageError, exit_2_on_usage_error
from benchmark.grid.profiles import get_profile
from benchmark.grid.runspec import RunSpec
from benchmark.envs.tasks import parse_task
from ablations.reporting import finish_report, provenance_line
from benchmark.reports.runs import load_runs, select_runs
from benchmark.reports.stats import CELL_HEADER, MISSING, seed_cell

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ARMS = {  # method -> (agent, synthetic transitions per real one)
    "td3bc": ("TD3+BC", 0.0), "dawm-t-td3bc": ("TD3+BC", 1.0), "dawm-td3bc": ("TD3+BC", 8.0),
    "iql": ("IQL", 0.0), "dawm-t-iql": ("IQL", 1.0), "dawm-iql": ("IQL", 8.0),
}
DEFAULT_TASKS = ("halfcheetah-medium-v2", "hopper-medium-v2", "walker2d-medium-v2")


def volume_table(runs: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """Rows: (agent, synthetic volume); columns: tasks; cells as stats.seed_cell, or missing."""
    rows = []
    for method, (agent, volume) in ARMS.items():
        row = {"agent": agent, "synthetic / real": f"{volume:g}x" + (" (real only)" if volume == 0 else ""),
               "method": method}
        for task in tasks:
            scores = runs.loc[(runs["method"] == method) & (runs["task"] == task), "final_score"]
            row[task] = seed_cell(scores)
        rows.append(row)
    return pd.DataFrame(rows)


def figure(runs: pd.DataFrame, out: Path) -> None:
    data = runs[runs["method"].isin(list(ARMS))].copy()
    data["agent"] = data["method"].map(lambda m: ARMS[m][0])
    data["synthetic transitions per real transition"] = data["method"].map(lambda m: f"{ARMS[m][1]:g}x")
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


def report(results: Path, tasks: list[str], profile: str, out: Path, figure_out: Path, source: str = "local") -> str:
    selection = select_runs(load_runs(results), profile=profile, source=source, tasks=tasks, methods=list(ARMS))
    runs = selection.runs
    table = volume_table(runs, tasks)
    missing = [f"{row['method']} on {task}" for _, row in table.iterrows() for task in tasks if row[task] == MISSING]
    lines = [f"# Data volume: DAWM vs DAWM-T vs real data only (profile `{profile}`)\n",
             f"Produced by `python -m ablations.data_volume --profile {profile}` from {len(runs)} result files in "
             f"`{results}`. Final normalised score (x100): {CELL_HEADER}. DAWM keeps 8 synthetic "
             f"transitions per real one, DAWM-T 1; every batch is half real, half synthetic (`real_ratio`).\n",
             provenance_line(runs) + selection.note() + "\n",
             table.drop(columns="method").to_markdown(index=False), ""]
    return finish_report(lines, missing, f"python -m ablations.data_volume --profile {profile}", out, [figure_out],
                         None if runs.empty else lambda: figure(runs, figure_out))


@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ablations.data_volume", description=__doc__, allow_abbrev=False,
                                     parents=[options.selection(), options.storage(), options.execution()])
    parser.add_argument("--report-only", action="store_true", help="only write the report from existing results")
    parser.add_argument("--out", type=Path, default=Path("results") / "data_volume.md")
    parser.set_defaults(tasks=list(DEFAULT_TASKS), seeds=[0, 1, 2], profile="quick")
    args = parser.parse_args(argv)
    if not args.report_only:
        if any(seed < 0 for seed in args.seeds):
            raise UsageError("--seeds must be 0 or more")
        profile = get_profile(args.profile).name
        specs = [RunSpec(parse_task(task).name, method, seed, profile) for task in args.tasks for method in ARMS
                 for seed in args.seeds]
        execute(args, list(dict.fromkeys(specs)), "data-volume")
    print(report(args.results, args.tasks, args.profile, args.out, args.out.parent / "figures" / "data_volume.png",
                 args.source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
