"""`python -m ablations.horizon`: rollout horizon H in {1, 3, 7} for DAWM, DWM and one-step MVE.

DWM reports one-step models degrading as H grows while Diffusion-MVE holds; DAWM reports itself stable over
H. Each (method, H) is a run of the harness with the horizon overridden (the run's `variant`, e.g.
`dwm-td3bc+h3`), except where H is the method's own default, whose main runs are reused. Writes
results/horizon.md and results/figures/horizon.png from the result files alone.
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
from benchmark.grid.hyperparams import resolve
from benchmark.grid.methods import METHODS
from benchmark.grid.profiles import get_profile
from ablations.reporting import finish_report, rerun_command, score_report_head, select_ablation_runs
from ablations.variant_runs import run_and_report
from benchmark.reports.stats import seed_cell
from benchmark.grid.runspec import RunSpec

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HORIZONS = (1, 3, 7)
ARMS = {  # method -> the component whose `horizon` sets the rollout length
    "dawm-td3bc": "augmentation", "dawm-iql": "augmentation", "dwm-td3bc": "agent", "dwm-iql": "agent",
    "onestep-td3bc": "agent", "onestep-iql": "agent",
}
DEFAULT_TASKS = ("halfcheetah-medium-v2", "hopper-medium-v2", "walker2d-medium-v2")


def horizon_spec(task: str, method: str, horizon: int, seed: int, profile: str) -> RunSpec:
    component = ARMS[method]
    if getattr(resolve(method, task).configs[component], "horizon") == horizon:
        return RunSpec(task, method, seed, profile)
    return RunSpec(task, method, seed, profile, variant=f"h{horizon}", overrides=((component, "horizon", horizon),))


def horizon_of(row: pd.Series) -> int | None:
    if row["variant"].startswith("h"):
        return int(row["variant"][1:])
    return getattr(resolve(row["method"], row["task"]).configs[ARMS[row["method"]]], "horizon")


def figure(runs: pd.DataFrame, out: Path) -> None:
    grid = sns.relplot(data=runs, x="H", y="final_score", hue="method", col="task", kind="line", marker="o",
                       errorbar=("sd", 1), height=3.2, aspect=1.0, facet_kws={"sharey": False})
    grid.set_axis_labels("rollout horizon H (steps)", "normalised score (final, x100)")
    grid.set(xticks=list(HORIZONS), xticklabels=[str(h) for h in HORIZONS])
    grid.figure.suptitle("Horizon ablation: mean ± sample std over seeds", y=1.03)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(grid.figure)


def report(results: Path, tasks: list[str], seeds: list[int], profile: str, out: Path, figure_out: Path,
           source: str = "local") -> str:
    tasks, selection = select_ablation_runs(results, profile=profile, source=source, tasks=tasks,
                                            methods=list(ARMS), variants=tuple(f"h{h}" for h in HORIZONS))
    runs = selection.runs
    runs["H"] = [horizon_of(row) for _, row in runs.iterrows()] if not runs.empty else []
    runs = runs[runs["H"].isin(HORIZONS)]  # a method's default H outside the sweep (OneStep-*: 2) is not shown
    rows, missing = [], []
    for method in ARMS:
        for horizon in HORIZONS:
            row = {"method": METHODS[method].label, "H": horizon}
            for task in tasks:
                scores = runs.loc[(runs["method"] == method) & (runs["H"] == horizon) & (runs["task"] == task),
                                  "final_score"]
                row[task] = seed_cell(scores)
                if scores.empty:
                    missing.append((task, f"{method} H={horizon} on {task}"))
            rows.append(row)
    lines = score_report_head(
        "Rollout horizon H", "horizon", profile, results, runs, selection,
        "DWM-* and OneStep-* use H in their MVE critic targets; DAWM-* turns the first H steps of each rollout "
        "into transitions (keeping 8x the real data). DWM's own sweep (its Table 6.8) used a T=32 model.",
        pd.DataFrame(rows))
    if not runs.empty:
        runs["method"] = runs["method"].map(lambda m: METHODS[m].label)
    return finish_report(lines, missing, partial(rerun_command, "horizon", profile, source, seeds), out,
                         [figure_out], None if runs.empty else lambda: figure(runs, figure_out))


@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ablations.horizon", description=__doc__, allow_abbrev=False,
                                     parents=[options.selection(), options.storage(),
                                              options.execution(with_report_only=True)])
    parser.add_argument("--methods", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--horizons", nargs="+", type=int, default=list(HORIZONS), choices=HORIZONS,
                        help="run these horizons only (the report always shows all)")
    parser.add_argument("--out", type=Path, default=Path("results") / "horizon.md")
    parser.set_defaults(tasks=list(DEFAULT_TASKS), seeds=[0, 1, 2], profile="quick")
    args = parser.parse_args(argv)
    get_profile(args.profile)
    specs = list(dict.fromkeys(horizon_spec(t, m, h, s, args.profile) for t in args.tasks for m in args.methods
                               for h in args.horizons for s in args.seeds))
    return run_and_report(args, specs, "horizon", lambda: report(
        args.results, args.tasks, args.seeds, args.profile, args.out, args.out.parent / "figures" / "horizon.png",
        args.source))


if __name__ == "__main__":
    sys.exit(main())
